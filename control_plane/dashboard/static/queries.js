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
      can("maintenance_window.manage")
        ? current === "maintenance"
          ? h("strong", {}, "Maintenance window")
          : h("a", { href: `${base}/maintenance` }, "Maintenance window")
        : null,
    ),
  );
}

export async function findDatabase(databaseId) {
  const databases = await api("GET", "/databases");
  const database = databases.find((candidate) => candidate.id === databaseId);
  if (!database) throw Object.assign(new Error("database not found"), { status: 404, detail: "database not found" });
  return database;
}

// "Analyze now": queues an analysis of the database's busiest statements, then follows the run
// (GET /databases/{id}/analyses/{run_id}) until it finishes, with its notices.
const RUN_UNFINISHED = new Set(["queued", "running"]);
const RUN_POLL_MS = 2000;
const SUMMARY_LABELS = {
  statements: "statements analysed",
  rule_findings: "rule findings",
  proofs_queued: "proofs queued for the agent",
  advisories: "advisories",
};

function runStatusText(run) {
  if (run.status === "queued") return "queued: the analysis worker picks it up shortly.";
  if (run.status === "running") return "running…";
  if (run.status === "succeeded") return "finished. Proven suggestions appear as recommendations once the agent has verified them.";
  return `${run.status}.`;
}

export function runPanel(run) {
  const summary = run.summary
    ? Object.entries(SUMMARY_LABELS)
        .filter(([key]) => run.summary[key] !== undefined)
        .map(([key, label]) => `${formatNumber(run.summary[key])} ${label}`)
    : [];
  return h(
    "div",
    { class: "notice analysis-run", role: "status", "data-run-id": run.id, "data-run-status": run.status },
    h("p", {}, h("strong", {}, "Analysis "), h("span", { class: "run-status" }, runStatusText(run))),
    h("p", { class: "muted" }, `run ${run.id}`),
    summary.length ? h("p", {}, summary.join(" · ")) : null,
    run.notices && run.notices.length ? h("ul", { class: "run-notices" }, run.notices.map((notice) => h("li", {}, notice))) : null,
    run.error ? h("p", { class: "error" }, run.error) : null,
  );
}

async function followRun(databaseId, runId, statusArea) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, RUN_POLL_MS));
    if (!statusArea.isConnected || statusArea.dataset.runId !== runId) return; // left, or a newer run
    let run;
    try {
      run = await api("GET", `/databases/${encodeURIComponent(databaseId)}/analyses/${encodeURIComponent(runId)}`);
    } catch (error) {
      replaceContent(statusArea, errorLine(error));
      return;
    }
    if (!statusArea.isConnected || statusArea.dataset.runId !== runId) return;
    replaceContent(statusArea, runPanel(run));
    if (!RUN_UNFINISHED.has(run.status)) return;
  }
}

export function analyzeButton(databaseId, statusArea) {
  if (!can("analysis.run")) return null;
  return actionButton(
    "Analyze now",
    async () => {
      const accepted = await api("POST", `/databases/${encodeURIComponent(databaseId)}/analyze`);
      statusArea.dataset.runId = accepted.run_id;
      replaceContent(statusArea, runPanel({ id: accepted.run_id, status: accepted.status, notices: [], summary: null, error: null }));
      followRun(databaseId, accepted.run_id, statusArea);
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
