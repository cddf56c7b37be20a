// The query heatmap: the busiest statements over the time range (rows) against equal time buckets
// (columns), each cell coloured by the statement time spent in it. The scale is logarithmic: in a
// real workload the busiest statement often takes 100× the tenth, and a linear scale would leave
// every row but the first blank. Each row links to its query; each cell names its time and load.

import { api } from "./api.js";
import { databaseHeading, databaseHref, findDatabase } from "./database_nav.js";
import { emptyState, formatMs, h, svg } from "./dom.js";
import { onLive } from "./live.js";
import { rangeLabel, rangeQuery } from "./range.js";

const ROWS = 20;
const BUCKETS = 48;

function intensity(value, max) {
  if (!value || value <= 0 || max <= 0) return 0;
  // log10(1 + value) / log10(1 + max): 0 for nothing, 1 for the busiest cell.
  return Math.max(0.06, Math.log10(1 + value) / Math.log10(1 + max));
}

function strip(row, buckets, bucketSeconds, max) {
  const width = buckets.length;
  return svg(
    "svg",
    { viewBox: `0 0 ${width} 1`, preserveAspectRatio: "none", role: "img", "aria-label": `statement time per bucket for ${row.query.slice(0, 60)}` },
    svg("rect", { class: "bg", x: 0, y: 0, width, height: 1 }),
    row.cells.map((value, index) =>
      svg(
        "rect",
        { x: index, y: 0, width: 0.94, height: 1, fill: "currentColor", "fill-opacity": intensity(value, max).toFixed(3), "data-ms": value },
        svg("title", {}, `${new Date(buckets[index]).toLocaleString()} (+${Math.round(bucketSeconds / 60)} min): ${formatMs(value)}`),
      ),
    ),
  );
}

function legend(max) {
  const steps = [0, 0.25, 0.5, 0.75, 1];
  return h(
    "div",
    { class: "heat-legend" },
    "less",
    svg("svg", { viewBox: "0 0 5 1", preserveAspectRatio: "none", "aria-hidden": "true" }, svg("rect", { class: "bg", x: 0, y: 0, width: 5, height: 1 }), steps.map((step, index) => svg("rect", { x: index, y: 0, width: 1, height: 1, fill: "currentColor", "fill-opacity": step }))),
    `more (busiest cell ${formatMs(max)})`,
  );
}

function heatmapGrid(databaseId, heatmap) {
  const max = Math.max(0, ...heatmap.rows.flatMap((row) => row.cells));
  const first = heatmap.buckets[0];
  const last = heatmap.buckets[heatmap.buckets.length - 1];
  return h(
    "div",
    {},
    legend(max),
    h(
      "div",
      { class: "heatmap", id: "heatmap", role: "list" },
      heatmap.rows.map((row) => [
        h("a", { class: "label", role: "listitem", href: databaseHref(databaseId, `/queries/${encodeURIComponent(row.fingerprint)}`), title: row.query, "data-fingerprint": row.fingerprint }, h("code", {}, row.query)),
        strip(row, heatmap.buckets, heatmap.bucket_seconds, max),
      ]),
      h("span", {}),
      h("div", { class: "axis" }, h("span", {}, new Date(first).toLocaleString()), h("span", {}, new Date(last).toLocaleString())),
    ),
  );
}

export async function heatmapView(databaseId, { refresh }) {
  const database = await findDatabase(databaseId);
  const path = () => `/databases/${encodeURIComponent(databaseId)}/heatmap?${rangeQuery()}&limit=${ROWS}&buckets=${BUCKETS}`;
  const area = h("div");
  const draw = (heatmap) =>
    area.replaceChildren(
      heatmap.rows.length === 0
        ? emptyState(`No statements in the ${rangeLabel()}.`, h("p", {}, "Try a longer time range, or check the agent on the overview."))
        : heatmapGrid(databaseId, heatmap),
    );
  draw(await api("GET", path()));
  onLive(async (kind) => {
    if ((kind === "snapshot" || kind === "reopened") && area.isConnected) draw(await api("GET", path()));
  });
  return h(
    "section",
    {},
    databaseHeading(database, "heatmap", { refresh, withRange: true }),
    h("h1", {}, `Query heatmap · ${database.name}`),
    h("p", { class: "muted" }, `The ${ROWS} statements that took the most time over the ${rangeLabel()}, in ${BUCKETS} buckets; hover a cell for its figure.`),
    area,
  );
}
