// A database's overview, the page a database opens on: is its agent reporting, the server's
// figures from the latest snapshot, the statement load over the time range, and the open
// recommendations ranked by the statement time they would save. New snapshots redraw it live.

import { api } from "./api.js";
import { timeChart } from "./charts.js";
import { databaseHeading, databaseHref, findDatabase } from "./database_nav.js";
import { emptyState, errorLine, formatAgo, formatNumber, formatPct, formatWhen, h, replaceContent, sqlBlock } from "./dom.js";
import { onLive } from "./live.js";
import { rangeBounds, rangeLabel, rangeQuery } from "./range.js";
import { evidenceLabel, recommendationTitle } from "./recommendations.js";

const AGENT_TEXT = {
  online: "Agent online",
  late: "Agent late: its last snapshot is overdue",
  offline: "Agent offline",
  never: "No agent has connected yet",
};
const TICK_MS = 1000;

function agentState(agent) {
  const since = h("span", { class: "muted", "data-last-seen": agent.last_seen_at || "" }, agent.last_seen_at ? `last contact ${formatWhen(agent.last_seen_at)}` : "");
  const ticker = setInterval(() => {
    if (!since.isConnected) {
      if (since.dataset.attached) clearInterval(ticker);
      return;
    }
    since.dataset.attached = "1";
    if (agent.last_seen_at) since.textContent = `last contact ${formatWhen(agent.last_seen_at)}`;
  }, TICK_MS);
  return h(
    "div",
    { class: "agent-state", id: "agent-state", "data-status": agent.status },
    h("span", { class: `badge agent-${agent.status}` }, agent.status),
    h("strong", {}, AGENT_TEXT[agent.status] || agent.status),
    agent.version ? h("span", { class: "muted" }, `version ${agent.version}`) : null,
    since,
  );
}

// No agent yet: the server's own command (its public URL; `<token>` is the one made when the
// database was added, or a new one from Settings → Databases).
function noAgentYet(database) {
  return emptyState(
    "Start the agent next to this database to see its load.",
    h("p", {}, "On a host that reaches the database, with the agent token made when it was added (or rotate it under ", h("a", { href: "#/settings" }, "Settings → Databases"), "):"),
    database.agent_command_template ? sqlBlock(database.agent_command_template, "agent-command") : null,
    h("p", { class: "muted small" }, "`optischema-agent check` first says what the agent can read and what is missing."),
  );
}

function kpi(label, value, note) {
  return h("div", { class: "kpi" }, h("div", { class: "value" }, value), h("div", { class: "label" }, label), note ? h("div", { class: "muted small" }, note) : null);
}

function kpiCards(kpis) {
  const missing = (key) => (kpis.missing && kpis.missing[key]) || null;
  const connections = kpis.active_connections === null ? "–" : `${formatNumber(kpis.active_connections)} / ${formatNumber(kpis.max_connections)}`;
  return h(
    "div",
    { class: "kpis", id: "kpis" },
    kpi("Transactions per second", kpis.tps === null ? "–" : formatNumber(kpis.tps, 1), missing("tps")),
    kpi("Active / max connections", connections, missing("active_connections")),
    kpi("Cache hit ratio", kpis.cache_hit_ratio === null ? "–" : formatPct(kpis.cache_hit_ratio * 100), missing("cache_hit_ratio")),
    kpi("Latest snapshot", kpis.measured_at ? formatAgo(kpis.measured_at) : "none yet", kpis.measured_at ? new Date(kpis.measured_at).toLocaleString() : null),
  );
}

function loadCharts(overview) {
  const times = overview.load.map((point) => new Date(point.at));
  const per = overview.load_resolution === "hour" ? "per hour" : "per interval";
  const span = rangeBounds(); // once: both charts share one x axis
  return h(
    "div",
    { class: "charts", id: "load" },
    timeChart(`Statement time ${per}`, times, [{ label: "execution time", unit: "ms", values: overview.load.map((point) => point.total_exec_time_ms) }], { span }),
    timeChart(`Calls ${per}`, times, [{ label: "calls", unit: "count", values: overview.load.map((point) => point.calls) }], { span }),
  );
}

function openRecommendations(databaseId, recommendations) {
  if (recommendations.length === 0) {
    return h("p", { class: "muted" }, "No open recommendations. The agent's advisor reports what it verified; ", h("a", { href: databaseHref(databaseId, "/recommendations") }, "Recommendations"), " has the history.");
  }
  return h(
    "ol",
    { class: "ranked", id: "open-recommendations" },
    recommendations.map((recommendation) =>
      h(
        "li",
        { "data-recommendation-id": recommendation.id },
        h("a", { href: databaseHref(databaseId, `/recommendations/${encodeURIComponent(recommendation.id)}`) }, recommendationTitle(recommendation)),
        " ",
        h("span", { class: `badge tier-${recommendation.tier}` }, recommendation.tier),
        " ",
        h("span", { class: "muted" }, evidenceLabel(recommendation)),
      ),
    ),
  );
}

function overviewBody(database, overview) {
  const databaseId = database.id;
  return [
    agentState(overview.agent),
    overview.agent.status === "never" ? noAgentYet(database) : null,
    kpiCards(overview.kpis),
    h("h2", {}, `Load, ${rangeLabel()}`),
    loadCharts(overview),
    h("h2", {}, "Open recommendations, most time saved first"),
    openRecommendations(databaseId, overview.recommendations),
  ];
}

export async function overviewView(databaseId, { refresh }) {
  const database = await findDatabase(databaseId);
  const path = () => `/databases/${encodeURIComponent(databaseId)}/overview?${rangeQuery()}`;
  const body = h("div", { id: "overview" });
  replaceContent(body, overviewBody(database, await api("GET", path())));
  onLive(async () => {
    try {
      const fresh = await api("GET", path());
      if (body.isConnected) replaceContent(body, overviewBody(database, fresh));
    } catch (error) {
      if (body.isConnected) replaceContent(body, errorLine(error));
    }
  });
  return h("section", {}, databaseHeading(database, "overview", { refresh, withRange: true }), h("h1", {}, database.name), body);
}
