// One query over the time range: latency, calls, rows and block reads with axes; its latest
// (generic) plan as a tree with each node's share of the cost; the plain-English explanation; and
// its recommendations. New snapshots redraw it live.

import { api } from "./api.js";
import { planTree, timeChart } from "./charts.js";
import { databaseHeading, databaseHref, findDatabase } from "./database_nav.js";
import { errorLine, formatMs, formatNumber, h, replaceContent } from "./dom.js";
import { onLive } from "./live.js";
import { rangeBounds, rangeLabel, rangeQuery } from "./range.js";
import { recommendationCard } from "./recommendations.js";

// An agent's first snapshot (no interval) holds the counters since the last reset, often days of
// work: drawn, it would be one false spike. Hourly points are sums and always count.
function countedPoints(detail) {
  if (detail.resolution === "hour") return detail.series;
  return detail.series.filter((point) => point.interval_seconds !== null);
}

function seriesCharts(detail) {
  const points = countedPoints(detail);
  if (points.length === 0) return h("p", { class: "muted" }, `No intervals recorded in the ${rangeLabel()}.`);
  const times = points.map((point) => new Date(point.at));
  const per = detail.resolution === "hour" ? "per hour" : "per interval";
  const calls = points.reduce((sum, point) => sum + point.calls, 0);
  const time = points.reduce((sum, point) => sum + point.total_exec_time_ms, 0);
  const span = rangeBounds(); // once: the four charts share one x axis
  return h(
    "div",
    {},
    h("p", { class: "muted" }, `${formatNumber(calls)} calls, ${formatMs(time)} in all, ${formatMs(calls ? time / calls : null)} per call over the ${rangeLabel()}.`),
    h(
      "div",
      { class: "charts", id: "query-charts" },
      timeChart("Mean time per call", times, [{ label: "mean", unit: "ms", values: points.map((point) => point.mean_exec_time_ms) }], { span }),
      timeChart(`Calls ${per}`, times, [{ label: "calls", unit: "count", values: points.map((point) => point.calls) }], { span }),
      timeChart(`Rows ${per}`, times, [{ label: "rows", unit: "rows", values: points.map((point) => point.rows) }], { span }),
      timeChart(`Blocks ${per}`, times, [
        { label: "read from disk", unit: "blocks", values: points.map((point) => point.shared_blks_read) },
        { label: "found in cache", unit: "blocks", values: points.map((point) => point.shared_blks_hit) },
      ], { span }),
    ),
  );
}

function recommendationList(items, reload) {
  if (!items || items.length === 0) return [h("p", { class: "muted" }, "None for this query.")];
  return items.map((recommendation) => recommendationCard(recommendation, reload));
}

export async function queryDetailView(databaseId, fingerprint, { refresh }) {
  const database = await findDatabase(databaseId);
  const path = () => `/databases/${encodeURIComponent(databaseId)}/queries/${encodeURIComponent(fingerprint)}?${rangeQuery()}`;
  const detail = await api("GET", path());
  const charts = h("div", {}, seriesCharts(detail));
  const recommendations = h("div", { id: "query-recommendations" });
  const reload = async () => {
    try {
      const fresh = await api("GET", path());
      if (!charts.isConnected) return;
      replaceContent(charts, seriesCharts(fresh));
      recommendations.replaceChildren(...recommendationList(fresh.recommendations, reload));
    } catch (error) {
      replaceContent(charts, errorLine(error));
    }
  };
  recommendations.append(...recommendationList(detail.recommendations, reload));
  onLive(reload);
  return h(
    "section",
    { id: "query-detail" },
    databaseHeading(database, null, { refresh, withRange: true }),
    h("p", {}, h("a", { href: databaseHref(databaseId, "/queries") }, "← Top queries")),
    h("h1", {}, "Query"),
    h("pre", { class: "sql" }, detail.query),
    h("p", { class: "muted small" }, `fingerprint ${detail.fingerprint}`),
    h("h2", {}, "Over time"),
    charts,
    h("h2", {}, "Latest plan"),
    h("p", { class: "muted small" }, "Each node's own share of the estimated cost; the costliest node is marked."),
    planTree(detail.plan),
    h("h2", {}, "In plain English"),
    detail.explanation ? h("p", { class: "explanation" }, detail.explanation) : h("p", { class: "muted" }, "Not analysed yet: “Analyze now” on the queries page explains the busiest statements."),
    h("h2", {}, "Recommendations"),
    recommendations,
  );
}
