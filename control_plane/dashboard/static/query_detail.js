// One query: its text, its time series, its latest (generic) plan, the explanation and its
// recommendations.

import { api } from "./api.js";
import { formatMs, formatNumber, h } from "./dom.js";
import { planTree, sparkline } from "./charts.js";
import { databaseHeading, findDatabase } from "./queries.js";
import { recommendationCard } from "./recommendations.js";

function seriesSection(series) {
  if (series.length === 0) return h("p", { class: "muted" }, "No intervals recorded in the last 7 days.");
  const means = series.map((point) => point.mean_exec_time_ms);
  const calls = series.map((point) => point.calls);
  const totalCalls = calls.reduce((sum, value) => sum + value, 0);
  const last = series[series.length - 1];
  return h(
    "div",
    {},
    h("h3", {}, "Mean time per call"),
    sparkline(means, "mean execution time per interval"),
    h("p", { class: "muted" }, `latest ${formatMs(last.mean_exec_time_ms)}, max ${formatMs(Math.max(...means))}, ${series.length} intervals`),
    h("h3", {}, "Calls per interval"),
    sparkline(calls, "calls per interval"),
    h("p", { class: "muted" }, `${formatNumber(totalCalls)} calls in the last 7 days`),
  );
}

export async function queryDetailView(databaseId, fingerprint) {
  const database = await findDatabase(databaseId);
  const detail = await api("GET", `/databases/${encodeURIComponent(databaseId)}/queries/${encodeURIComponent(fingerprint)}`);
  const recommendations = h("div");
  const reload = async () => {
    const fresh = await api("GET", `/databases/${encodeURIComponent(databaseId)}/queries/${encodeURIComponent(fingerprint)}`);
    recommendations.replaceChildren(...recommendationList(fresh.recommendations, reload));
  };
  recommendations.append(...recommendationList(detail.recommendations, reload));
  return h(
    "section",
    { id: "query-detail" },
    databaseHeading(database, null),
    h("h1", {}, "Query"),
    h("pre", { class: "sql" }, detail.query),
    h("p", { class: "muted" }, `fingerprint ${detail.fingerprint}`),
    h("h2", {}, "Time series"),
    seriesSection(detail.series),
    h("h2", {}, "Latest plan"),
    planTree(detail.plan),
    h("h2", {}, "Explanation"),
    detail.explanation ? h("p", {}, detail.explanation) : h("p", { class: "muted" }, "Not analysed yet."),
    h("h2", {}, "Recommendations"),
    recommendations,
  );
}

function recommendationList(items, reload) {
  if (!items || items.length === 0) return [h("p", { class: "muted" }, "None for this query.")];
  return items.map((recommendation) => recommendationCard(recommendation, reload));
}
