// A database's top queries, sortable by total time, mean time or calls, with their share of load.

import { api } from "./api.js";
import { actionButton, errorLine, formatMs, formatNumber, formatPct, h, replaceContent } from "./dom.js";
import { can } from "./session.js";

const ORDERS = [
  ["total_time", "Total time"],
  ["mean_time", "Mean time"],
  ["calls", "Calls"],
];

export function databaseHeading(database, current) {
  const base = `#/databases/${encodeURIComponent(database.id)}`;
  return h(
    "div",
    {},
    h("p", { class: "muted" }, h("a", { href: "#/databases" }, "Databases"), " / ", database.name),
    h(
      "nav",
      { class: "toolbar" },
      current === "queries" ? h("strong", {}, "Top queries") : h("a", { href: `${base}/queries` }, "Top queries"),
      current === "recommendations"
        ? h("strong", {}, "Recommendations")
        : h("a", { href: `${base}/recommendations` }, "Recommendations"),
    ),
  );
}

export async function findDatabase(databaseId) {
  const databases = await api("GET", "/databases");
  const database = databases.find((candidate) => candidate.id === databaseId);
  if (!database) throw Object.assign(new Error("database not found"), { status: 404, detail: "database not found" });
  return database;
}

// "Analyze now": asks the control plane for a fresh analysis of the database.
export function analyzeButton(databaseId, statusArea) {
  if (!can("analyze")) return null;
  return actionButton(
    "Analyze now",
    async () => {
      const started = await api("POST", `/databases/${encodeURIComponent(databaseId)}/analyze`);
      const run = started && (started.run_id || started.job_id || started.id);
      replaceContent(
        statusArea,
        h("p", { class: "notice", role: "status" }, run ? `Analysis started (run ${run}); explanations and new recommendations appear when it finishes.` : "Analysis started."),
      );
    },
    { cls: "primary", errorTarget: statusArea },
  );
}

function queriesTable(databaseId, queries, orderBy, reorder) {
  const header = (key, title) => {
    const button = h("button", { type: "button", class: key === orderBy ? "sort active" : "sort", "data-order": key }, title);
    button.addEventListener("click", () => reorder(key));
    return h("th", { class: "num" }, button);
  };
  return h(
    "table",
    { id: "queries" },
    h(
      "thead",
      {},
      h("tr", {}, h("th", {}, "Query"), header("calls", "Calls"), header("total_time", "Total time"), header("mean_time", "Mean time"), h("th", {}, "Load")),
    ),
    h(
      "tbody",
      {},
      queries.map((query) =>
        h(
          "tr",
          {},
          h(
            "td",
            { class: "query" },
            h("a", { href: `#/databases/${encodeURIComponent(databaseId)}/queries/${encodeURIComponent(query.fingerprint)}` }, h("code", {}, query.query)),
          ),
          h("td", { class: "num" }, formatNumber(query.calls)),
          h("td", { class: "num" }, formatMs(query.total_exec_time_ms)),
          h("td", { class: "num" }, formatMs(query.mean_exec_time_ms)),
          h("td", {}, h("progress", { max: 100, value: Math.min(100, query.load_pct) }), " ", formatPct(query.load_pct)),
        ),
      ),
    ),
  );
}

export async function queriesView(databaseId) {
  const database = await findDatabase(databaseId);
  const statusArea = h("div");
  const tableArea = h("div");
  let orderBy = "total_time";
  async function load(order) {
    orderBy = order;
    try {
      const queries = await api("GET", `/databases/${encodeURIComponent(databaseId)}/queries?order_by=${order}&limit=50`);
      replaceContent(
        tableArea,
        queries.length === 0
          ? h("p", { class: "muted" }, "No statements yet: they appear after the agent's first snapshot.")
          : queriesTable(databaseId, queries, orderBy, load),
      );
    } catch (error) {
      replaceContent(tableArea, errorLine(error));
    }
  }
  await load(orderBy);
  const sortNote = h("span", { class: "muted" }, `Last 24 hours; sort by ${ORDERS.map(([, title]) => title.toLowerCase()).join(", ")}.`);
  return h(
    "section",
    {},
    databaseHeading(database, "queries"),
    h("h1", {}, `Top queries · ${database.name}`),
    h("div", { class: "toolbar" }, sortNote, h("span", { class: "spacer" }), analyzeButton(databaseId, statusArea), h("button", { type: "button", onclick: () => load(orderBy) }, "Refresh")),
    statusArea,
    tableArea,
  );
}
