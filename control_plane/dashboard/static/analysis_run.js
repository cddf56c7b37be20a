// Analyses asked for from the dashboard: "Analyze now" queues one for the database's busiest
// statements, and the panel follows the run until it finishes, with its notices.

import { api } from "./api.js";
import { actionButton, errorLine, formatNumber, h, replaceContent } from "./dom.js";
import { can } from "./session.js";

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

