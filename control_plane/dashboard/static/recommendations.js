// Recommendations with the evidence of their tier, and the approve / reject / rollback workflow.
//
// Tiers: verified (HypoPG costs before and after), estimated (planner estimate), advisory (a rule,
// no costing), measured (after apply: the observed change).

import { api } from "./api.js";
import { actionButton, errorLine, formatNumber, formatPct, formatWhen, h, replaceContent } from "./dom.js";
import { analyzeButton, databaseHeading, findDatabase } from "./queries.js";
import { can } from "./session.js";

const STATUSES = ["", "proposed", "approved", "applying", "applied", "failed", "rejected", "rolled_back"];
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

function workflowButtons(recommendation, problem, reload) {
  const at = `/recommendations/${encodeURIComponent(recommendation.id)}`;
  const buttons = [];
  const options = { errorTarget: problem };
  if (recommendation.status === "proposed" && can("approve")) {
    buttons.push(
      actionButton("Approve", async () => {
        if (!window.confirm("Approve? The agent applies it on its next poll (if it runs with --allow-apply).")) return;
        await api("POST", `${at}/approve`, {});
        await reload();
      }, { ...options, cls: "primary" }),
    );
  }
  if (recommendation.status === "proposed" && can("reject")) {
    buttons.push(
      actionButton("Reject", async () => {
        const reason = window.prompt("Why reject it? (optional)");
        if (reason === null) return;
        await api("POST", `${at}/reject`, reason.trim() ? { reason: reason.trim() } : {});
        await reload();
      }, options),
    );
  }
  if (recommendation.status === "applied" && recommendation.rollback_sql && can("rollback")) {
    buttons.push(
      actionButton("Roll back", async () => {
        if (!window.confirm("Queue the rollback SQL for the agent?")) return;
        await api("POST", `${at}/rollback`);
        await reload();
      }, { ...options, cls: "danger" }),
    );
  }
  return buttons;
}

export function recommendationCard(recommendation, reload) {
  const problem = h("div", { class: "action-error" });
  const target = recommendation.table ? `${recommendation.table}${recommendation.columns.length ? ` (${recommendation.columns.join(", ")})` : ""}` : "";
  return h(
    "article",
    { class: "card recommendation", "data-recommendation-id": recommendation.id },
    h(
      "header",
      {},
      h("span", { class: `badge tier-${recommendation.tier}` }, recommendation.tier),
      h("span", { class: `badge status-${recommendation.status}` }, recommendation.status.replace("_", " ")),
      h("strong", {}, recommendation.kind.replace("_", " ")),
      h("span", {}, target),
      h("span", { class: "muted" }, formatWhen(recommendation.created_at)),
    ),
    h(
      "div",
      { class: "figures" },
      h("span", {}, "Estimated improvement ", h("strong", {}, formatPct(recommendation.improvement_pct))),
      recommendation.measured_improvement_pct === null || recommendation.measured_improvement_pct === undefined
        ? null
        : h("span", {}, "Measured ", h("strong", {}, formatPct(recommendation.measured_improvement_pct))),
    ),
    h("p", {}, recommendation.rationale),
    evidenceTable(recommendation.queries),
    h("h3", {}, "SQL"),
    h("pre", { class: "sql" }, recommendation.sql),
    recommendation.rollback_sql ? [h("h3", {}, "Rollback SQL"), h("pre", { class: "sql" }, recommendation.rollback_sql)] : null,
    h("div", { class: "toolbar" }, workflowButtons(recommendation, problem, reload)),
    problem,
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
      if (recommendations.some((r) => IN_FLIGHT.has(r.status))) {
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
