// Settings · Maintenance windows (admins, `maintenance_window.manage`): the days and hours, in a time
// zone, in which the agent may apply and roll back changes. No window: any time.
//
// The form is rebuilt from what the server answers after every save, so what it shows is what is
// stored; with no window yet, the time zone offered is the browser's own, not UTC.

import { api } from "./api.js";
import { errorLine, h, replaceContent } from "./dom.js";
import { confirmStep, databasePicker, field } from "./settings_parts.js";

const DAYS = [
  ["mon", "Mon"],
  ["tue", "Tue"],
  ["wed", "Wed"],
  ["thu", "Thu"],
  ["fri", "Fri"],
  ["sat", "Sat"],
  ["sun", "Sun"],
];
// A night window is the usual first choice: the form's defaults when no window is stored.
const DEFAULT_START = "22:00";
const DEFAULT_END = "04:00";

export function browserTimeZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

function describe(stored) {
  if (stored === null) return "No window: approved changes are applied on the agent's next poll, any time.";
  const days = DAYS.filter(([key]) => stored.days.includes(key)).map(([, label]) => label).join(", ");
  const hours = stored.start === stored.end ? "all day" : `${stored.start} to ${stored.end}`;
  return `Apply and rollback jobs wait for ${days}, ${hours} (${stored.time_zone}).`;
}

function timeZoneList() {
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  return h("datalist", { id: "settings-time-zones" }, ["UTC", ...zones].map((zone) => h("option", { value: zone })));
}

function windowForm(databaseId, current, reshow, said) {
  const zoneDefault = browserTimeZone();
  const boxes = DAYS.map(([key, label]) => [
    h("input", { type: "checkbox", name: "day", value: key, checked: Boolean(current && current.days.includes(key)) }),
    label,
  ]);
  const start = h("input", { type: "time", name: "start", required: true, value: current ? current.start : DEFAULT_START });
  const end = h("input", { type: "time", name: "end", required: true, value: current ? current.end : DEFAULT_END });
  const zone = h("input", { type: "text", name: "time_zone", required: true, maxlength: 64, list: "settings-time-zones", autocomplete: "off", value: current ? current.time_zone : zoneDefault });
  const problem = h("div");
  const form = h(
    "form",
    { id: "maintenance-window-form", class: "settings-form" },
    h("p", { id: "maintenance-state" }, describe(current)),
    h("fieldset", { class: "days" }, h("legend", {}, "Days"), boxes.map(([box, label]) => h("label", { class: "day" }, box, ` ${label}`))),
    h("div", { class: "field-row" }, field("From", start), field("Until", end)),
    field("Time zone", zone, current ? null : `No window yet: your browser's time zone (${zoneDefault}) is offered.`),
    timeZoneList(),
    h("p", { class: "muted" }, "An end not after the start runs past midnight (22:00 to 04:00); equal start and end is the whole day."),
    h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary" }, "Save window"), said ? h("span", { class: "ok", role: "status" }, said) : null),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceContent(problem);
    const days = boxes.filter(([box]) => box.checked).map(([box]) => box.value);
    if (days.length === 0) {
      replaceContent(problem, h("p", { class: "error", role: "alert" }, "Choose at least one day, or clear the window."));
      return;
    }
    try {
      const chosen = { days, start: start.value.slice(0, 5), end: end.value.slice(0, 5), time_zone: zone.value.trim() };
      await api("PUT", `/databases/${encodeURIComponent(databaseId)}/maintenance-window`, chosen);
      await reshow(databaseId, "Saved.");
    } catch (error) {
      replaceContent(problem, errorLine(error));
    }
  });
  const clear = current
    ? confirmStep("Clear window", "Clear the window? Approved changes are then applied any time.", async () => {
        await api("PUT", `/databases/${encodeURIComponent(databaseId)}/maintenance-window`, null);
        await reshow(databaseId, null);
      })
    : null;
  return h("div", {}, form, clear);
}

export async function maintenanceSection(databases) {
  const editor = h("div", { id: "maintenance-editor", "aria-live": "polite" });
  async function show(databaseId, said = null) {
    if (!databaseId) {
      replaceContent(editor, h("p", { class: "muted" }, "Add a database first."));
      return;
    }
    try {
      const current = await api("GET", `/databases/${encodeURIComponent(databaseId)}/maintenance-window`);
      replaceContent(editor, windowForm(databaseId, current, show, said));
    } catch (error) {
      replaceContent(editor, errorLine(error));
    }
  }
  const picker = databasePicker("maintenance-database", "Database", databases, (id) => show(id));
  await show(picker.chooser.value);
  return {
    element: h("div", {}, picker.element, editor),
    async update(list) {
      const before = picker.chooser.value;
      picker.update(list);
      if (picker.chooser.value !== before) await show(picker.chooser.value);
    },
  };
}
