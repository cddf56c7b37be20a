// Recommendations with the evidence of their tier, grouped with their alternatives, and the
// approve / reject / rollback workflow (POST /recommendations/{id}/approve | reject | rollback).
//
// What the user may do comes from the server: each recommendation's `allowed_actions`. Tiers:
// verified (HypoPG costs before and after), benchmarked (timed on the sandbox copy), estimated
// (planner cost of a rewrite, never executed), advisory (judged by people), measured (after apply).

import { analyzeButton } from "./analysis_run.js";
import { api, download } from "./api.js";
import { databaseHeading, databaseHref, findDatabase } from "./database_nav.js";
import { actionButton, emptyState, errorLine, formatBytes, formatDuration, formatMs, formatNumber, formatPct, formatWhen, h, replaceContent, scrollBox, sqlBlock } from "./dom.js";
import { onLive } from "./live.js";
import { approveDialog } from "./approve_dialog.js";
import { allows } from "./session.js";

const STATUSES = ["", "proposed", "approved", "applying", "applied", "failed", "rejected", "rolled_back", "superseded"];
const IN_FLIGHT = new Set(["approved", "applying"]);

function change(pct) {
  if (pct === null || pct === undefined) return "–";
  return `${pct >= 0 ? "−" : "+"}${formatPct(Math.abs(pct))}`;
}

// What the headline number is, in words: never a bare "improvement".
export function evidenceLabel(recommendation) {
  const gain = change(recommendation.improvement_pct);
  switch (recommendation.tier) {
    case "verified":
      return `verified by HypoPG: cost ${gain}`;
    case "benchmarked":
      return `benchmarked on the sandbox: real time ${change(recommendation.benchmark ? recommendation.benchmark.gain_pct : recommendation.improvement_pct)}`;
    case "demoted":
      return `demoted by the sandbox run: HypoPG estimated cost ${gain}, the real run did not bear it out`;
    case "estimated":
      return `estimated by the planner (not executed): cost ${gain}`;
    case "measured":
      return `measured after apply: mean time ${change(recommendation.measured_improvement_pct)}`;
    default:
      return "advisory: for a person to judge";
  }
}

export function recommendationTitle(recommendation) {
  const kind = recommendation.kind.replaceAll("_", " ");
  if (!recommendation.table) return kind;
  const columns = recommendation.columns.length ? ` (${recommendation.columns.join(", ")})` : "";
  return `${kind} on ${recommendation.table}${columns}`;
}

function evidenceTable(queries) {
  if (!queries || queries.length === 0) return null;
  return scrollBox(
    h(
      "table",
      { class: "evidence", "aria-label": "statements served" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Statement served"), h("th", { class: "num", scope: "col" }, "Calls"), h("th", { class: "num", scope: "col" }, "Cost before"), h("th", { class: "num", scope: "col" }, "Cost after"), h("th", { class: "num", scope: "col" }, "Change"))),
      h(
        "tbody",
        {},
        queries.map((query) => {
          const before = query.cost_before;
          const after = query.cost_after;
          const pct = before > 0 && after !== null && after !== undefined ? ((before - after) / before) * 100 : null;
          return h(
            "tr",
            {},
            h("td", { class: "query" }, h("code", {}, query.query || query.fingerprint || "")),
            h("td", { class: "num" }, formatNumber(query.calls)),
            h("td", { class: "num" }, formatNumber(before, 2)),
            h("td", { class: "num" }, formatNumber(after, 2)),
            h("td", { class: "num" }, change(pct)),
          );
        }),
      ),
    ),
  );
}

// What applying it costs: the lock it takes, how long the build should take, the writes it slows.
// Once the index was built on the sandbox, its real size and build time replace the estimates.
function riskLine(risk, benchmark) {
  if (!risk) return null;
  const built = benchmark && benchmark.index_size_bytes !== null && benchmark.index_size_bytes !== undefined;
  const size = built ? `${formatBytes(benchmark.index_size_bytes)} (built on the sandbox)` : risk.estimated_size_bytes !== null && risk.estimated_size_bytes !== undefined ? `≈ ${formatBytes(risk.estimated_size_bytes)}` : null;
  const build = built && benchmark.build_seconds !== null && benchmark.build_seconds !== undefined ? `${formatDuration(benchmark.build_seconds)} on the sandbox` : risk.estimated_build_seconds !== null && risk.estimated_build_seconds !== undefined ? `≈ ${formatDuration(risk.estimated_build_seconds)}` : null;
  return h(
    "div",
    { class: "risk", "aria-label": "risk" },
    h("span", {}, h("strong", {}, "Lock: "), risk.lock),
    size ? h("span", {}, h("strong", {}, "Size: "), size) : null,
    build ? h("span", {}, h("strong", {}, "Build: "), build) : null,
    risk.table_writes_per_second !== null && risk.table_writes_per_second !== undefined
      ? h("span", {}, h("strong", {}, "Writes slowed: "), `${formatNumber(risk.table_writes_per_second, 1)} rows/s on the table`)
      : null,
  );
}

// What the sandbox run says (control_plane/benchmarks): queued, benchmarked (the real gain reached the
// bar), demoted (it did not, with the figures), or failed; the real timings beside the estimate.
const sentence = (text) => text.charAt(0).toUpperCase() + text.slice(1);

const VERDICT_TEXT = {
  queued: "Being timed on the sandbox copy: the agent builds the index there and runs the statements before and after.",
  benchmarked: "Timed on the sandbox copy: the real gain reached the bar.",
  demoted: "Demoted: timed on the sandbox copy, the real gain fell short of the estimate.",
  failed: "The sandbox run failed.",
};

// `queries`: the recommendation's statements, whose text names a timed statement better than its
// fingerprint (a statement timed only because its plan changed keeps the fingerprint).
export function benchmarkSection(benchmark, queries = []) {
  if (!benchmark) return null;
  const statements = benchmark.statements || [];
  const texts = new Map(queries.map((query) => [query.fingerprint, query.query]));
  const built = benchmark.index_size_bytes !== null && benchmark.index_size_bytes !== undefined;
  return h(
    "div",
    { class: `benchmark verdict-${benchmark.verdict || "benchmarked"}`, "data-verdict": benchmark.verdict || "" },
    h("h3", {}, "Timed on the sandbox"),
    h("p", { class: "small" }, VERDICT_TEXT[benchmark.verdict] || "", benchmark.reason ? ` ${sentence(benchmark.reason)}` : ""),
    built || benchmark.gain_pct !== null && benchmark.gain_pct !== undefined
      ? h(
          "p",
          { class: "small figures" },
          benchmark.gain_pct !== null && benchmark.gain_pct !== undefined ? `Real time ${change(benchmark.gain_pct)}` : null,
          benchmark.estimated_improvement_pct !== null && benchmark.estimated_improvement_pct !== undefined ? ` (HypoPG estimated cost ${change(benchmark.estimated_improvement_pct)})` : null,
          benchmark.time_saved_ms_per_day ? `, ${formatMs(benchmark.time_saved_ms_per_day)} saved per day` : null,
          built ? `. Built in ${formatDuration(benchmark.build_seconds)}, ${formatBytes(benchmark.index_size_bytes)} on disk (real, not estimated).` : null,
        )
      : null,
    statements.length
      ? scrollBox(
          h(
            "table",
            { "aria-label": "timings before and after" },
            h("thead", {}, h("tr", {}, ["Statement", "Median before", "Median after", "p95 before", "p95 after", "Plan"].map((title, index) => h("th", { scope: "col", class: index && index < 5 ? "num" : null }, title)))),
            h(
              "tbody",
              {},
              statements.map((one) =>
                h(
                  "tr",
                  {},
                  h("td", {}, h("code", { title: one.fingerprint }, texts.get(one.fingerprint) || one.fingerprint)),
                  h("td", { class: "num" }, formatMs(one.median_ms_before)),
                  h("td", { class: "num" }, formatMs(one.median_ms_after)),
                  h("td", { class: "num" }, formatMs(one.p95_ms_before)),
                  h("td", { class: "num" }, formatMs(one.p95_ms_after)),
                  h("td", {}, one.plan_changed === false ? "unchanged" : one.plan_changed ? "changed" : "–"),
                ),
              ),
            ),
          ),
        )
      : null,
  );
}

const LINT_UNAVAILABLE = "squawk-unavailable";

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

// What an action just did (its queued job), shown until the change settles.
const lastOutcome = new Map();

function rejectForm(at, problem, reload) {
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
  if (allows(recommendation, "approve")) {
    const label = recommendation.status === "failed" ? "Approve again" : "Approve";
    const open = h("button", { type: "button", class: "primary" }, label);
    open.addEventListener("click", () =>
      approveDialog(recommendation, [evidenceLabel(recommendation), benchmarkSection(recommendation.benchmark, recommendation.queries)], async (notBefore) => {
        const queued = await api("POST", `${at}/approve`, notBefore ? { not_before: notBefore } : {});
        lastOutcome.set(recommendation.id, { text: `Apply job queued (${queued.job_id}).`, jobId: queued.job_id });
        await reload();
      }),
    );
    buttons.push(open);
  }
  if (allows(recommendation, "reject")) {
    const form = rejectForm(at, problem, reload);
    const open = h("button", { type: "button" }, "Reject");
    open.addEventListener("click", () => {
      form.hidden = false;
      form.querySelector("input").focus();
    });
    buttons.push(open);
    extra.push(form);
  }
  if (allows(recommendation, "benchmark")) {
    buttons.push(
      actionButton(
        recommendation.benchmark ? "Benchmark again" : "Benchmark on sandbox",
        async () => {
          await api("POST", `${at}/benchmark`); // the card then shows the benchmark as queued
          await reload();
        },
        { errorTarget: problem },
      ),
    );
  }
  if (allows(recommendation, "rollback")) {
    buttons.push(
      actionButton(
        "Roll back",
        async () => {
          if (!window.confirm(`Queue the rollback for the agent?\n\n${recommendation.rollback_sql || ""}\n\nIt runs inside the maintenance window.`)) return;
          const queued = await api("POST", `${at}/rollback`);
          lastOutcome.set(recommendation.id, { text: `Rollback job queued (${queued.job_id}).`, jobId: queued.job_id });
          await reload();
        },
        { cls: "danger", errorTarget: problem },
      ),
    );
  }
  return [h("div", { class: "toolbar" }, buttons), extra];
}

// Where the change stands: who approved it, when it was applied, why it was rejected or failed.
function lifecycle(recommendation) {
  const lines = [];
  if (recommendation.approved_at) lines.push(`Approved ${formatWhen(recommendation.approved_at)}${recommendation.approved_by ? ` by ${recommendation.approved_by}` : ""}.`);
  if (recommendation.applied_at) lines.push(`Applied ${formatWhen(recommendation.applied_at)}.`);
  const outcome = IN_FLIGHT.has(recommendation.status) || recommendation.rollback_in_progress ? lastOutcome.get(recommendation.id) : null;
  const supersededBy = recommendation.superseded_by
    ? h("a", { href: databaseHref(recommendation.database_id, `/recommendations/${encodeURIComponent(recommendation.superseded_by)}`) }, "the applied alternative")
    : null;
  return h(
    "div",
    { class: "lifecycle" },
    lines.map((line) => h("p", { class: "muted" }, line)),
    recommendation.approve_refusal ? h("p", { class: "status-reason approve-refusal" }, `Cannot be approved now: ${recommendation.approve_refusal}`) : null,
    recommendation.status_reason ? h("p", { class: "status-reason" }, `${recommendation.status === "rejected" ? "Rejected" : "Reason"}: ${recommendation.status_reason}`) : null,
    supersededBy ? h("p", { class: "muted superseded" }, "Superseded: made pointless by ", supersededBy, ", so there is nothing to approve.") : null,
    recommendation.rollback_in_progress ? h("p", { class: "notice rollback-queued" }, "Rollback queued: the agent drops the index on its next poll.") : null,
    recommendation.rollback_available ? h("p", { class: "rollback-available muted" }, "Rollback available.") : null,
    outcome ? h("p", { class: "notice", role: "status", "data-job-id": outcome.jobId }, outcome.text) : null,
    !recommendation.applicable && recommendation.status === "proposed" ? h("p", { class: "muted" }, "Advisory: OptiSchema applies only index changes; carry this one out yourself, or reject it.") : null,
  );
}

function measuredFigure(recommendation) {
  if (recommendation.measured_improvement_pct !== null && recommendation.measured_improvement_pct !== undefined) {
    return h(
      "span",
      { class: "measured" },
      "Measured after apply: mean time ",
      h("strong", {}, change(recommendation.measured_improvement_pct)),
      " ",
      recommendation.measured_verdict ? h("span", { class: `badge verdict-${recommendation.measured_verdict}` }, recommendation.measured_verdict) : null,
      recommendation.measured_at ? h("span", { class: "muted small" }, ` (${formatWhen(recommendation.measured_at)})`) : null,
    );
  }
  if (recommendation.status === "applied") return h("span", { class: "measured muted" }, "Measured: waiting for enough calls before and after the change");
  return null;
}

function headline(recommendation) {
  if (["measured", "advisory", "demoted"].includes(recommendation.tier)) return h("span", { class: "evidence-label" }, evidenceLabel(recommendation));
  const [label, figure] = evidenceLabel(recommendation).split(/: (?=[^:]*$)/);
  return h("span", { class: "evidence-label" }, `${label}: `, h("strong", {}, figure));
}

const DETAIL_TEXT = {
  reason: (value) => `reason: ${value}`,
  job_id: (value) => `job ${value}`,
  not_before: (value) => `not before ${new Date(value).toLocaleString()}`,
  attempt: (value) => `attempt ${value}`,
  index_name: (value) => `index ${value}`,
  index_size_bytes: (value) => `size ${formatBytes(value)}`,
  duration_s: (value) => `took ${formatDuration(value)}`,
  measured_improvement_pct: (value) => `mean time ${change(value)}`,
  measured_verdict: (value) => value,
  related_recommendation_id: (value) => `related to ${value}`,
};

// A move that leaves the status as it was (a benchmark and its verdict) is named by itself; the
// others by the status they lead to.
const MOVES_WITHOUT_STATUS = new Set(["benchmark", "benchmarked", "demoted", "benchmark_failed"]);
const timelineMove = (entry) => (MOVES_WITHOUT_STATUS.has(entry.action) ? entry.action : entry.status || entry.action || "");

function timelineDetail(detail) {
  if (!detail) return null;
  if (typeof detail === "string") return h("div", { class: "muted small" }, detail);
  const parts = Object.entries(detail)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => (DETAIL_TEXT[key] ? DETAIL_TEXT[key](value) : `${key.replaceAll("_", " ")}: ${value}`));
  return parts.length ? h("div", { class: "muted small" }, parts.join(" · ")) : null;
}

// Every status change with the person who made it and the measured result (detail page).
function timeline(entries) {
  if (!entries) return null;
  return [
    h("h3", {}, "Timeline"),
    entries.length === 0
      ? h("p", { class: "muted" }, "No change yet.")
      : h(
          "ol",
          { class: "timeline" },
          entries.map((entry) =>
            h("li", {}, h("span", { class: "muted" }, new Date(entry.at).toLocaleString()), " ", h("strong", {}, timelineMove(entry).replaceAll("_", " ")), entry.actor_email ? ` by ${entry.actor_email}` : entry.actor === "system" ? " automatically" : entry.actor === "agent" ? " by the agent" : "", timelineDetail(entry.detail)),
          ),
        ),
  ];
}

export function recommendationCard(recommendation, reload, { linkToDetail = true } = {}) {
  const problem = h("div", { class: "action-error" });
  return h(
    "article",
    { class: "card recommendation", "data-recommendation-id": recommendation.id, "data-status": recommendation.status, "aria-label": recommendationTitle(recommendation) },
    h(
      "header",
      {},
      h("span", { class: `badge tier-${recommendation.tier}` }, recommendation.tier),
      h("span", { class: `badge status status-${recommendation.status}` }, recommendation.status.replace("_", " ")),
      h("strong", {}, recommendationTitle(recommendation)),
      linkToDetail ? h("a", { class: "review", href: databaseHref(recommendation.database_id, `/recommendations/${encodeURIComponent(recommendation.id)}`) }, "Review") : null,
    ),
    h(
      "div",
      { class: "figures" },
      headline(recommendation),
      measuredFigure(recommendation),
      h("span", { class: "muted small evidence-at" }, `evidence ${formatWhen(recommendation.evidence_at || recommendation.updated_at)}`),
    ),
    riskLine(recommendation.risk, recommendation.benchmark),
    h("p", {}, recommendation.rationale),
    benchmarkSection(recommendation.benchmark, recommendation.queries),
    evidenceTable(recommendation.queries),
    h("h3", {}, "SQL"),
    sqlBlock(recommendation.sql),
    lintSection(recommendation.lint),
    recommendation.rollback_sql ? [h("h3", {}, "Rollback SQL"), sqlBlock(recommendation.rollback_sql, "sql rollback")] : null,
    lifecycle(recommendation),
    linkToDetail ? null : timeline(recommendation.timeline),
    workflow(recommendation, problem, reload),
    problem,
  );
}

// Alternatives for the same statements and table, side by side, then each card.
function groupBox(members, reload) {
  const first = members[0];
  const comparison = scrollBox(
    h(
      "table",
      { class: "alternatives", "aria-label": "alternatives" },
      h("thead", {}, h("tr", {}, ["Alternative", "Status", "Evidence", "Size", "Build"].map((title) => h("th", { scope: "col" }, title)))),
      h(
        "tbody",
        {},
        members.map((member) =>
          h(
            "tr",
            { "data-recommendation-id": member.id },
            h("td", {}, h("code", {}, `(${member.columns.join(", ")})`)),
            h("td", {}, h("span", { class: `badge status-${member.status}` }, member.status.replace("_", " "))),
            h("td", {}, evidenceLabel(member)),
            h("td", { class: "num" }, member.risk ? formatBytes(member.risk.estimated_size_bytes) : "–"),
            h("td", { class: "num" }, member.risk ? formatDuration(member.risk.estimated_build_seconds) : "–"),
          ),
        ),
      ),
    ),
  );
  return h(
    "section",
    { class: "group", "data-group": first.group, "aria-label": `alternatives on ${first.table}` },
    h("h2", {}, `${members.length} alternatives on ${first.table || "the same statements"}: pick one`),
    h("p", { class: "muted small" }, "Applying one marks the others it makes pointless as superseded."),
    comparison,
    members.map((member) => recommendationCard(member, reload)),
  );
}

export function groupedCards(recommendations, reload) {
  const groups = new Map();
  for (const recommendation of recommendations) {
    const key = recommendation.group || `single:${recommendation.id}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(recommendation);
  }
  return [...groups.values()].map((members) => (members.length > 1 ? groupBox(members, reload) : recommendationCard(members[0], reload)));
}

// One recommendation for the decision: squawk's findings on its SQL and its timeline.
export async function recommendationDetailView(databaseId, recommendationId, { refresh }) {
  const database = await findDatabase(databaseId);
  const area = h("div", { id: "recommendation-detail" });
  let shown = null; // the answer on screen: an unchanged one is not drawn again (focus, open forms stay)
  async function load() {
    try {
      const recommendation = await api("GET", `/recommendations/${encodeURIComponent(recommendationId)}`);
      const answer = JSON.stringify(recommendation);
      if (answer === shown) return;
      shown = answer;
      replaceContent(area, recommendationCard(recommendation, load, { linkToDetail: false }));
    } catch (error) {
      replaceContent(area, errorLine(error));
    }
  }
  await load();
  onLive((kind, payload) => (kind !== "recommendation" || payload.recommendation_id === recommendationId) && load());
  return h(
    "section",
    {},
    databaseHeading(database, "recommendations", { refresh }),
    h("p", {}, h("a", { href: databaseHref(databaseId, "/recommendations") }, "← All recommendations")),
    h("h1", {}, "Recommendation"),
    area,
  );
}

export async function recommendationsView(databaseId, { refresh }) {
  const database = await findDatabase(databaseId);
  const listArea = h("div", { id: "recommendations" });
  const statusArea = h("div");
  const filter = h("select", { "aria-label": "status" }, STATUSES.map((status) => h("option", { value: status }, status ? status.replace("_", " ") : "all statuses")));
  const path = (format = "") => `/databases/${encodeURIComponent(databaseId)}/recommendations${filter.value ? `?status=${encodeURIComponent(filter.value)}` : ""}${format ? `${filter.value ? "&" : "?"}format=${format}` : ""}`;
  let shown = null; // as on the detail page: an unchanged answer is not drawn again
  async function load() {
    try {
      const recommendations = await api("GET", path());
      const answer = JSON.stringify(recommendations);
      if (answer === shown) return;
      shown = answer;
      replaceContent(
        listArea,
        recommendations.length === 0
          ? emptyState("No recommendations.", h("p", {}, "The agent's advisor reports what it verified with HypoPG; “Analyze now” asks the rules (and the LLM, if set up) for more."))
          : groupedCards(recommendations, load),
      );
    } catch (error) {
      replaceContent(listArea, errorLine(error));
    }
  }
  filter.addEventListener("change", load);
  await load();
  onLive((kind) => kind !== "snapshot" && load());
  const exportCsv = h("button", { type: "button", "data-export": "csv", onclick: () => download(path("csv"), `${database.name}-recommendations.csv`).catch((error) => replaceContent(statusArea, errorLine(error))) }, "Export CSV");
  return h(
    "section",
    {},
    databaseHeading(database, "recommendations", { refresh }),
    h("h1", {}, `Recommendations · ${database.name}`),
    h("div", { class: "toolbar" }, h("label", { class: "field" }, "Status", filter), h("span", { class: "spacer" }), exportCsv, analyzeButton(databaseId, statusArea)),
    statusArea,
    listArea,
  );
}
