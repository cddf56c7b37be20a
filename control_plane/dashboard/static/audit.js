// The audit log, newest first (for those the server lets read it): people by email, databases by
// name and linked, details as readable lines; filtered by who, action, object and dates; paged;
// exported as CSV with the same filters.

import { api, download } from "./api.js";
import { databaseHref } from "./database_nav.js";
import { errorLine, h, replaceContent, scrollBox } from "./dom.js";

const PAGE_SIZE = 50;
const ACTIONS = ["", "auth.login", "auth.login_failed", "user.create", "user.role_change", "user.disable", "database.create", "database.delete", "agent_token.create", "agent_token.revoke", "recommendation.approve", "recommendation.reject", "recommendation.apply", "recommendation.apply_failed", "recommendation.rollback"];

function detailLines(detail) {
  const entries = Object.entries(detail || {});
  if (entries.length === 0) return null;
  return h(
    "dl",
    { class: "audit-detail small" },
    entries.map(([key, value]) => [h("dt", { class: "muted" }, key.replaceAll("_", " ")), h("dd", {}, typeof value === "string" ? value : JSON.stringify(value))]),
  );
}

function objectCell(entry) {
  const [kind, id] = String(entry.object || "").split(":");
  if (kind === "recommendation" && entry.database_id) {
    return h("a", { href: databaseHref(entry.database_id, `/recommendations/${encodeURIComponent(id)}`) }, "recommendation");
  }
  if (kind === "user" && entry.object_email) return h("span", {}, entry.object_email);
  if (kind === "database" && entry.database_name) return h("span", {}, "database");
  return h("code", { class: "small" }, entry.object);
}

function auditTable(entries) {
  return scrollBox(
    h(
      "table",
      { id: "audit", "aria-label": "audit log" },
      h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Database", "Object", "Detail"].map((title) => h("th", { scope: "col" }, title)))),
      h(
        "tbody",
        {},
        entries.map((entry) =>
          h(
            "tr",
            {},
            h("td", {}, new Date(entry.at).toLocaleString()),
            h("td", { class: "actor" }, entry.actor_email || (entry.actor.startsWith("agent:") ? "the agent" : entry.actor)),
            h("td", {}, h("code", {}, entry.action)),
            h("td", { class: "database" }, entry.database_id && entry.database_name ? h("a", { href: databaseHref(entry.database_id) }, entry.database_name) : entry.database_name || "–"),
            h("td", {}, objectCell(entry)),
            h("td", {}, detailLines(entry.detail)),
          ),
        ),
      ),
    ),
  );
}

function filterForm(onApply) {
  const field = (label, input) => h("label", { class: "field" }, label, input);
  const who = h("input", { name: "actor", type: "search", placeholder: "email" });
  const action = h("select", { name: "action" }, ACTIONS.map((value) => h("option", { value }, value || "any action")));
  const object = h("input", { name: "object", type: "search", placeholder: "recommendation: or an id" });
  const from = h("input", { name: "from", type: "date" });
  const to = h("input", { name: "to", type: "date" });
  const form = h("form", { class: "toolbar", id: "audit-filters", role: "search" }, field("Who", who), field("Action", action), field("Object", object), field("From", from), field("To", to), h("button", { type: "submit" }, "Filter"));
  const read = () => {
    const params = new URLSearchParams();
    if (who.value.trim()) params.set("actor", who.value.trim());
    if (action.value) params.set("action", action.value);
    if (object.value.trim()) params.set("object", object.value.trim());
    if (from.value) params.set("from", new Date(`${from.value}T00:00:00`).toISOString());
    if (to.value) params.set("to", new Date(`${to.value}T23:59:59.999`).toISOString());
    return params;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onApply(read());
  });
  return [form, read];
}

export async function auditView() {
  const area = h("div");
  const problem = h("div");
  let offset = 0;
  let filters = new URLSearchParams();
  async function load() {
    const params = new URLSearchParams(filters);
    params.set("limit", String(PAGE_SIZE + 1)); // one more than shown: is there a next page?
    params.set("offset", String(offset));
    try {
      const entries = await api("GET", `/audit?${params}`);
      const shown = entries.slice(0, PAGE_SIZE);
      const previous = h("button", { type: "button", disabled: offset === 0, onclick: () => ((offset = Math.max(0, offset - PAGE_SIZE)), load()) }, "← Newer");
      const next = h("button", { type: "button", disabled: entries.length <= PAGE_SIZE, onclick: () => ((offset += PAGE_SIZE), load()) }, "Older →");
      replaceContent(
        area,
        shown.length === 0 ? h("p", { class: "muted" }, "Nothing recorded that matches.") : auditTable(shown),
        h("div", { class: "pager" }, previous, h("span", { class: "muted" }, shown.length ? `${offset + 1}–${offset + shown.length}` : ""), next),
      );
    } catch (error) {
      replaceContent(area, errorLine(error));
    }
  }
  const [form, read] = filterForm((params) => {
    filters = params;
    offset = 0;
    load();
  });
  const exportCsv = h("button", { type: "button", "data-export": "csv", onclick: () => download(`/audit?${new URLSearchParams([...read(), ["limit", "1000"], ["format", "csv"]])}`, "audit.csv").catch((error) => replaceContent(problem, errorLine(error))) }, "Export CSV");
  await load();
  return h("section", {}, h("h1", {}, "Audit log"), form, h("div", { class: "toolbar" }, h("span", { class: "spacer" }), exportCsv), problem, area);
}
