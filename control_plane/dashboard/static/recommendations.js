// Recommendations with the evidence of their tier, and the approve / reject / rollback workflow
// (control_plane.changes: POST /recommendations/{id}/approve | reject | rollback).
//
// Tiers: verified (HypoPG costs before and after), estimated (planner estimate), advisory (a rule,
// no costing), measured (after apply: the observed change).

import { api } from "./api.js";
import { actionButton, errorLine, formatNumber, formatPct, formatWhen, h, replaceContent } from "./dom.js";
import { analyzeButton, databaseHeading, findDatabase } from "./queries.js";
import { allows } from "./session.js";

const STATUSES = ["", "proposed", "approved", "applying", "applied", "failed", "rejected", "rolled_back", "superseded"];
const IN_FLIGHT = new Set(["approved", "applying"]);
const POLL_MS = 5000;

function evidenceTable(queries) {
  if (!queries || queries.length === 0) return null;
  return h(
    "table",
    { class: "evidence" },
    h("thead", {}, h("tr", {}, h("th", {}, "Statement served"), h("th", { class: "num" }, "Calls"), h("th", { class: "num" }, "Cost before"), h("th", { class: "num" }, "Cost after"), h("th", { class: "num" }, "Change"))),
    h(
      "tbody",
      {},
      queries.map((query) => {
        const before = query.cost_before;
        const after = query.cost_after;
        const change = before > 0 && after !== null && after !== undefined ? ((before - after) / before) * 100 : null;
        return h(
          "tr",
          {},
          h("td", { class: "query" }, h("code", {}, query.query || query.fingerprint || "")),
          h("td", { class: "num" }, formatNumber(query.calls)),
          h("td", { class: "num" }, formatNumber(before, 2)),
          h("td", { class: "num" }, formatNumber(after, 2)),
          h("td", { class: "num" }, change === null ? "–" : `−${formatPct(change)}`),
        );
      }),
    ),
  );
}

const LINT_UNAVAILABLE = "squawk-unavailable";

// What an action just did to a recommendation (its queued job), kept across reloads of the list.
const lastOutcome = new Map();

function detailHref(recommendation) {
  return `#/databases/${encodeURIComponent(recommendation.database_id)}/recommendations/${encodeURIComponent(recommendation.id)}`;
}

function rejectForm(at, recommendation, problem, reload) {
  const reason = h("input", { name: "reason", class: "reject-reason", maxlength: 2000, placeholder: "Why reject it? (optional)", "aria-label": "reason" });
  const form = h("form", { class: "toolbar reject-form", hidden: true }, reason);
  const cancel = h("button", { type: "button" }, "Cancel");
  const confirm = h("button", { type: "submit", class: "danger" }, "Confirm reject");
  form.append(confirm, cancel);
  cancel.addEventListener("click", () => {
    form.hidden = true;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    confirm.disabled = true;
    replaceContent(problem);
    try {
      const text = reason.value.trim();
      await api("POST", `${at}/reject`, text ? { reason: text } : {});
      await reload();
    } catch (error) {
      replaceContent(problem, errorLine(error));
    } finally {
      confirm.disabled = false;
    }
  });
  return form;
}

function workflow(recommendation, problem, reload) {
  const at = `/recommendations/${encodeURIComponent(recommendation.id)}`;
  const buttons = [];
  const extra = [];
  const options = { errorTarget: problem };
  if (allows(recommendation, "approve")) {
    buttons.push(
      actionButton(
        recommendation.status === "failed" ? "Approve again" : "Approve",
        async () => {
          const question = "Approve? The agent applies it on its next poll (when it runs with --allow-apply), inside the database's maintenance window.";
          if (!window.confirm(question)) return;
          const queued = await api("POST", `${at}/approve`, {});
          lastOutcome.set(recommendation.id, { text: `Apply job queued (${queued.job_id}).`, jobId: queued.job_id });
          await reload();
        },
        { ...options, cls: "primary" },
      ),
    );
  }
  if (allows(recommendation, "reject")) {
    const form = rejectForm(at, recommendation, problem, reload);
    const open = h("button", { type: "button" }, "Reject");
    open.addEventListener("click", () => {
      form.hidden = false;
      form.querySelector("input").focus();
    });
    buttons.push(open);
    extra.push(form);
  }
  if (allows(recommendation, "rollback")) {
    buttons.push(
      actionButton(
        "Roll back",
        async () => {
          if (!window.confirm("Queue the rollback SQL for the agent? It runs inside the maintenance window.")) return;
          const queued = await api("POST", `${at}/rollback`);
          lastOutcome.set(recommendation.id, { text: `Rollback job queued (${queued.job_id}).`, jobId: queued.job_id });
          await reload();
        },
        { ...options, cls: "danger" },
      ),
    );
  }
  return [h("div", { class: "toolbar" }, buttons), extra];
}

// Where the change stands: who approved it, when it was applied, why it was rejected or failed.
function lifecycle(recommendation) {
  const lines = [];
  if (recommendation.approved_at) {
    lines.push(`Approved ${formatWhen(recommendation.approved_at)}${recommendation.approved_by ? ` by ${recommendation.approved_by}` : ""}.`);
  }
  if (recommendation.applied_at) lines.push(`Applied ${formatWhen(recommendation.applied_at)}.`);
  const outcome = lastOutcome.get(recommendation.id);
  return h(
    "div",
    { class: "lifecycle" },
    lines.map((line) => h("p", { class: "muted" }, line)),
    recommendation.status_reason
      ? h("p", { class: "status-reason" }, `${recommendation.status === "rejected" ? "Rejected" : "Reason"}: ${recommendation.status_reason}`)
      : null,
    recommendation.superseded_by
      ? h("p", { class: "muted superseded" }, "Superseded by the applied recommendation ", h("code", {}, recommendation.superseded_by), ".")
      : null,
    recommendation.rollback_in_progress ? h("p", { class: "notice rollback-queued" }, "Rollback queued: the agent drops the index on its next poll.") : null,
    recommendation.rollback_available ? h("p", { class: "rollback-available muted" }, "Rollback available.") : null,
    outcome ? h("p", { class: "notice", role: "status", "data-job-id": outcome.jobId }, outcome.text) : null,
    !recommendation.applicable && recommendation.status === "proposed"
      ? h("p", { class: "muted" }, "Advisory: OptiSchema applies only index changes; carry this one out yourself, or reject it.")
      : null,
  );
}

function measuredFigure(recommendation) {
  if (recommendation.measured_improvement_pct !== null && recommendation.measured_improvement_pct !== undefined) {
    return h(
      "span",
      { class: "measured" },
      "Measured ",
      h("strong", {}, formatPct(recommendation.measured_improvement_pct)),
      " ",
      recommendation.measured_verdict ? h("span", { class: `badge verdict-${recommendation.measured_verdict}` }, recommendation.measured_verdict) : null,
    );
  }
  if (recommendation.status === "applied") return h("span", { class: "measured muted" }, "Measured: waiting for enough calls before and after the change");
  return null;
}

// squawk's findings on the SQL (GET /recommendations/{id} only): they inform, never block.
function lintSection(lint) {
  if (lint === null || lint === undefined) return null;
  if (lint.length === 0) return h("div", { class: "lint" }, h("h3", {}, "squawk"), h("p", { class: "muted" }, "squawk has nothing to flag in this SQL."));
  return h(
    "div",
    { class: "lint" },
    h("h3", {}, "squawk findings"),
    h("p", { class: "muted" }, "They inform the decision; they never block it."),
    h(
      "ul",
      {},
      lint.map((finding) =>
        h(
          "li",
          { class: finding.rule === LINT_UNAVAILABLE ? "lint-finding muted" : "lint-finding", "data-rule": finding.rule },
          h("code", {}, finding.rule),
          " ",
          finding.message,
          finding.help ? h("div", { class: "muted" }, finding.help) : null,
        ),
      ),
    ),
  );
}

export function recommendationCard(recommendation, reload, { linkToDetail = true } = {}) {
  const problem = h("div", { class: "action-error" });
  const target = recommendation.table ? `${recommendation.table}${recommendation.columns.length ? ` (${recommendation.columns.join(", ")})` : ""}` : "";
  return h(
    "article",
    { class: "card recommendation", "data-recommendation-id": recommendation.id, "data-status": recommendation.status },
    h(
      "header",
      {},
      h("span", { class: `badge tier-${recommendation.tier}` }, recommendation.tier),
      h("span", { class: `badge status status-${recommendation.status}` }, recommendation.status.replace("_", " ")),
      h("strong", {}, recommendation.kind.replace("_", " ")),
      h("span", {}, target),
      h("span", { class: "muted" }, formatWhen(recommendation.created_at)),
      linkToDetail ? h("a", { class: "review", href: detailHref(recommendation) }, "Review") : null,
    ),
    h(
      "div",
      { class: "figures" },
      h("span", {}, "Estimated improvement ", h("strong", {}, formatPct(recommendation.improvement_pct))),
      measuredFigure(recommendation),
    ),
    h("p", {}, recommendation.rationale),
    evidenceTable(recommendation.queries),
    h("h3", {}, "SQL"),
    h("pre", { class: "sql" }, recommendation.sql),
    lintSection(recommendation.lint),
    recommendation.rollback_sql ? [h("h3", {}, "Rollback SQL"), h("pre", { class: "sql" }, recommendation.rollback_sql)] : null,
    lifecycle(recommendation),
    workflow(recommendation, problem, reload),
    problem,
  );
}

// One recommendation for the decision: with squawk's findings on its SQL.
export async function recommendationDetailView(databaseId, recommendationId) {
  const database = await findDatabase(databaseId);
  const area = h("div", { id: "recommendation-detail" });
  let timer = null;
  async function load() {
    clearTimeout(timer);
    try {
      const recommendation = await api("GET", `/recommendations/${encodeURIComponent(recommendationId)}`);
      replaceContent(area, recommendationCard(recommendation, load, { linkToDetail: false }));
      if (IN_FLIGHT.has(recommendation.status) || recommendation.rollback_in_progress) {
        timer = setTimeout(() => area.isConnected && load(), POLL_MS);
      }
    } catch (error) {
      replaceContent(area, errorLine(error));
    }
  }
  await load();
  return h(
    "section",
    {},
    databaseHeading(database, null),
    h("p", {}, h("a", { href: `#/databases/${encodeURIComponent(databaseId)}/recommendations` }, "← All recommendations")),
    h("h1", {}, "Recommendation"),
    area,
  );
}

export async function recommendationsView(databaseId) {
  const database = await findDatabase(databaseId);
  const listArea = h("div", { id: "recommendations" });
  const statusArea = h("div");
  const filter = h("select", { "aria-label": "status" }, STATUSES.map((status) => h("option", { value: status }, status ? status.replace("_", " ") : "all statuses")));
  let timer = null;
  async function load() {
    clearTimeout(timer);
    try {
      const query = filter.value ? `?status=${encodeURIComponent(filter.value)}` : "";
      const recommendations = await api("GET", `/databases/${encodeURIComponent(databaseId)}/recommendations${query}`);
      replaceContent(
        listArea,
        recommendations.length === 0
          ? h("p", { class: "muted" }, "No recommendations. The agent's advisor reports what it verified; “Analyze now” asks for more.")
          : recommendations.map((recommendation) => recommendationCard(recommendation, load)),
      );
      // While a change is being applied, follow it until it settles (and stop once the page is left).
      if (recommendations.some((r) => IN_FLIGHT.has(r.status) || r.rollback_in_progress)) {
        timer = setTimeout(() => listArea.isConnected && load(), POLL_MS);
      }
    } catch (error) {
      replaceContent(listArea, errorLine(error));
    }
  }
  filter.addEventListener("change", load);
  await load();
  return h(
    "section",
    {},
    databaseHeading(database, "recommendations"),
    h("h1", {}, `Recommendations · ${database.name}`),
    h("div", { class: "toolbar" }, filter, h("span", { class: "spacer" }), analyzeButton(databaseId, statusArea), h("button", { type: "button", onclick: load }, "Refresh")),
    statusArea,
    listArea,
  );
}
