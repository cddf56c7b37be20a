// A database's pages share one header: where you are, the tabs, and the time range picker.

import { api } from "./api.js";
import { h } from "./dom.js";
import { rangePicker } from "./range.js";

export const TABS = [
  ["overview", "Overview", ""],
  ["queries", "Queries", "/queries"],
  ["heatmap", "Heatmap", "/heatmap"],
  ["recommendations", "Recommendations", "/recommendations"],
  ["index-health", "Index health", "/index-health"],
];

// A database whose agent runs in privacy mode sends keyed pseudonyms instead of schema, table,
// column and index names; the key stays with the agent, so the dashboard shows pseudonyms only.
export function privacyBadge(database) {
  if (!database.privacy_mode || database.privacy_mode === "off") return null;
  return h(
    "span",
    { class: "badge privacy", title: "The agent sends keyed pseudonyms instead of names; the key never leaves it, so real names are not shown here." },
    "names pseudonymized",
  );
}

export function databaseHref(databaseId, suffix = "") {
  return `#/databases/${encodeURIComponent(databaseId)}${suffix}`;
}

export async function findDatabase(databaseId) {
  const databases = await api("GET", "/databases");
  const database = databases.find((candidate) => candidate.id === databaseId);
  if (!database) throw Object.assign(new Error("database not found"), { status: 404, detail: "database not found" });
  return database;
}

// current: one of the TABS keys (or null on a page below one); withRange: show the picker, whose
// change re-renders the page through `refresh`.
export function databaseHeading(database, current, { refresh = null, withRange = false } = {}) {
  const tabs = TABS.map(([key, label, suffix]) =>
    h("a", { href: databaseHref(database.id, suffix), "aria-current": key === current ? "page" : null }, label),
  );
  return h(
    "div",
    { class: "db-nav" },
    h("nav", { class: "breadcrumb", "aria-label": "Breadcrumb" }, h("a", { href: "#/databases" }, "Databases"), " / ", h("strong", {}, database.name), " ", privacyBadge(database)),
    h("nav", { class: "tabs", "aria-label": `${database.name} pages` }, tabs),
    withRange && refresh ? rangePicker(refresh) : null,
  );
}
