// A database's maintenance window (admins): the days and hours, in the database's time zone, in
// which the agent may apply and roll back changes. No window: any time.

import { api } from "./api.js";
import { errorLine, h, replaceContent } from "./dom.js";
import { databaseHeading, findDatabase } from "./database_nav.js";

const DAYS = [
  ["mon", "Mon"],
  ["tue", "Tue"],
  ["wed", "Wed"],
  ["thu", "Thu"],
  ["fri", "Fri"],
  ["sat", "Sat"],
  ["sun", "Sun"],
];
const HH_MM = "([01][0-9]|2[0-3]):[0-5][0-9]";

function describe(stored) {
  if (stored === null) return "No window: approved changes are applied on the agent's next poll, any time.";
  const days = DAYS.filter(([key]) => stored.days.includes(key)).map(([, label]) => label).join(", ");
  const hours = stored.start === stored.end ? "all day" : `${stored.start} to ${stored.end}`;
  return `Apply and rollback jobs wait for ${days}, ${hours} (${stored.time_zone}).`;
}

function timeZoneList() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return h("datalist", { id: "time-zones" }, ["UTC", ...zones].map((zone) => h("option", { value: zone })));
}

export async function maintenanceView(databaseId) {
  const database = await findDatabase(databaseId);
  const current = await api("GET", `/databases/${encodeURIComponent(databaseId)}/maintenance-window`);
  const state = h("p", { id: "maintenance-state" }, describe(current));
  const problem = h("div");
  const checkboxes = DAYS.map(([key, label]) => {
    const box = h("input", { type: "checkbox", name: "day", value: key, checked: Boolean(current && current.days.includes(key)) });
    return [box, h("label", { class: "day" }, box, ` ${label}`)];
  });
  const start = h("input", { name: "start", required: true, pattern: HH_MM, placeholder: "22:00", size: 5, value: current ? current.start : "22:00", "aria-label": "start" });
  const end = h("input", { name: "end", required: true, pattern: HH_MM, placeholder: "04:00", size: 5, value: current ? current.end : "04:00", "aria-label": "end" });
  const zone = h("input", { name: "time_zone", required: true, list: "time-zones", maxlength: 64, value: current ? current.time_zone : "UTC", "aria-label": "time zone" });
  const clear = h("button", { type: "button", class: "danger" }, "Clear window");
  const form = h(
    "form",
    { id: "maintenance-window" },
    h("div", { class: "toolbar" }, checkboxes.map(([, label]) => label)),
    h("div", { class: "toolbar" }, h("label", {}, "From ", start), h("label", {}, "until ", end), h("label", {}, "time zone ", zone), timeZoneList()),
    h("p", { class: "muted" }, "An end not after the start runs past midnight (22:00 to 04:00); equal start and end is the whole day."),
    h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary" }, "Save window"), clear),
    problem,
  );

  async function save(chosen) {
    replaceContent(problem);
    try {
      const saved = await api("PUT", `/databases/${encodeURIComponent(databaseId)}/maintenance-window`, chosen);
      replaceContent(state, describe(saved));
    } catch (error) {
      replaceContent(problem, errorLine(error));
    }
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const days = checkboxes.filter(([box]) => box.checked).map(([box]) => box.value);
    if (days.length === 0) {
      replaceContent(problem, h("p", { class: "error", role: "alert" }, "Choose at least one day, or clear the window."));
      return;
    }
    await save({ days, start: start.value.trim(), end: end.value.trim(), time_zone: zone.value.trim() });
  });
  clear.addEventListener("click", async () => {
    if (!window.confirm("Clear the window? Approved changes are then applied any time.")) return;
    await save(null);
  });
  return h("section", {}, databaseHeading(database, "maintenance"), h("h1", {}, `Maintenance window · ${database.name}`), state, form);
}
