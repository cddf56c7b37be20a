// Charts: time series drawn by uPlot (vendored from npm, see control_plane/dashboard/vendor.json,
// loaded as the global `uPlot` by index.html), with real axes, units and a live legend that reads
// the values under the cursor; and a plan drawn as a tree with each node's share of the cost.
//
// Colours come from the stylesheet's custom properties, so a chart follows the theme: it is drawn
// again when the theme or the system's preference changes, and when its box changes width.

import { formatMs, formatNumber, h, svg } from "./dom.js";

const HEIGHT = 200;
const PALETTE = ["--accent", "--warn", "--ok", "--danger"];

// Axis labels are short ("300 s", "1.5 s", "20 ms"); the legend under the cursor is exact.
function shortMs(value) {
  if (value === null || value === undefined) return "";
  if (value >= 1000) return `${compact(value / 1000)} s`;
  return `${compact(value)} ms`;
}

export const UNITS = {
  ms: { axis: (value) => shortMs(value), value: (value) => formatMs(value) },
  count: { axis: (value) => compact(value), value: (value) => formatNumber(value) },
  blocks: { axis: (value) => compact(value), value: (value) => `${formatNumber(value)} blocks` },
  rows: { axis: (value) => compact(value), value: (value) => `${formatNumber(value)} rows` },
};

function compact(value) {
  if (value === null || value === undefined) return "";
  const size = Math.abs(value);
  if (size >= 1e9) return `${formatNumber(value / 1e9, 1)}G`;
  if (size >= 1e6) return `${formatNumber(value / 1e6, 1)}M`;
  if (size >= 1e3) return `${formatNumber(value / 1e3, 1)}k`;
  return formatNumber(value, size < 10 && size % 1 ? 1 : 0);
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function plotOptions(width, series, xRange) {
  const ink = cssVar("--muted");
  const grid = cssVar("--line");
  const scales = [...new Set(series.map((one) => one.unit))];
  const axis = (unit, index) => ({
    scale: unit,
    side: index === 0 ? 3 : 1,
    stroke: ink,
    grid: { stroke: grid, width: 1, show: index === 0 },
    ticks: { stroke: grid, width: 1 },
    values: (plot, splits) => splits.map((value) => UNITS[unit].axis(value)),
    size: 64,
  });
  return {
    width,
    height: HEIGHT,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    // x spans the chosen time range (not just the points: one point would stretch over years)
    scales: Object.fromEntries([["x", { time: true, range: () => xRange }], ...scales.map((unit) => [unit, { auto: true, range: (plot, min, max) => [0, max > 0 ? max * 1.05 : 1] }])]),
    axes: [{ stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } }, ...scales.map(axis)],
    series: [
      { label: "time", value: (plot, seconds) => (seconds === null ? "–" : new Date(seconds * 1000).toLocaleString()) },
      ...series.map((one, index) => ({
        label: one.label,
        scale: one.unit,
        stroke: cssVar(PALETTE[index % PALETTE.length]),
        width: 1.5,
        points: { show: one.values.length < 60 },
        value: (plot, value) => (value === null || value === undefined ? "–" : UNITS[one.unit].value(value)),
      })),
    ],
  };
}

// times: Date[]; series: [{label, unit: key of UNITS, values: number[]}]; span: [from, to] Dates,
// the range the x axis shows (default: the points', padded by an hour). Returns the chart's box.
export function timeChart(title, times, series, { id = null, span = null } = {}) {
  const box = h("figure", { class: "chart", id, role: "img", "aria-label": `${title}: ${series.map((one) => one.label).join(", ")}` }, h("h3", {}, title));
  if (times.length === 0) {
    box.append(h("p", { class: "muted" }, "No intervals in this time range."));
    return box;
  }
  const data = [times.map((at) => at.getTime() / 1000), ...series.map((one) => one.values)];
  const xRange = span
    ? [span[0].getTime() / 1000, span[1].getTime() / 1000]
    : [data[0][0] - 3600, data[0][data[0].length - 1] + 3600];
  const area = h("div", { class: "plot" });
  box.append(area);
  let plot = null;
  let drawnWidth = 0;
  const draw = () => {
    const width = Math.floor(area.clientWidth);
    if (width <= 0 || !area.isConnected) return;
    if (plot) plot.destroy();
    plot = new window.uPlot(plotOptions(width, series, xRange), data, area);
    drawnWidth = width;
  };
  const observer = new ResizeObserver(() => {
    if (Math.abs(Math.floor(area.clientWidth) - drawnWidth) > 2) draw();
  });
  observer.observe(area);
  const redraw = () => (area.isConnected ? draw() : document.removeEventListener("optischema:theme", redraw));
  document.addEventListener("optischema:theme", redraw);
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", redraw);
  return box;
}

// ---- plans ----

// EXPLAIN (FORMAT JSON) comes as [{"Plan": ...}], {"Plan": ...} or a bare node.
function rootNode(plan) {
  let node = Array.isArray(plan) ? plan[0] : plan;
  if (node && node.Plan) node = node.Plan;
  return node && typeof node === "object" ? node : null;
}

const DETAIL_KEYS = ["Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond", "Merge Cond", "Sort Key", "Group Key", "Cache Key", "Subplan Name", "CTE Name"];

function children(node) {
  return Array.isArray(node.Plans) ? node.Plans : [];
}

// A node's own cost: its total less its children's (PostgreSQL's costs are cumulative).
function ownCost(node) {
  const total = Number(node["Total Cost"] || 0);
  const below = children(node).reduce((sum, child) => sum + Number(child["Total Cost"] || 0), 0);
  return Math.max(total - below, 0);
}

function costliest(node) {
  let best = node;
  for (const child of children(node)) {
    const candidate = costliest(child);
    if (ownCost(candidate) > ownCost(best)) best = candidate;
  }
  return best;
}

function nodeTitle(node) {
  let title = String(node["Node Type"] || "?");
  if (node["Parallel Aware"]) title = `Parallel ${title}`;
  if (node["Join Type"] && node["Node Type"] !== "Hash") title = `${node["Join Type"]} ${title}`;
  if (node["Index Name"]) title += ` using ${node["Index Name"]}`;
  if (node["Relation Name"]) {
    const schema = node.Schema ? `${node.Schema}.` : "";
    title += ` on ${schema}${node["Relation Name"]}`;
    if (node.Alias && node.Alias !== node["Relation Name"]) title += ` ${node.Alias}`;
  }
  return title;
}

function shareBar(share) {
  const width = Math.max(0, Math.min(100, share * 100));
  return h("span", { class: "share-bar", "aria-hidden": "true" }, svg("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none" }, svg("rect", { x: 0, y: 0, width, height: 10, fill: "currentColor" })));
}

function nodeItem(node, rootCost, worst) {
  const share = rootCost > 0 ? ownCost(node) / rootCost : 0;
  const isWorst = node === worst && share > 0;
  const costs = `cost=${formatNumber(node["Startup Cost"], 2)}..${formatNumber(node["Total Cost"], 2)} rows=${formatNumber(node["Plan Rows"])}`;
  const details = DETAIL_KEYS.filter((key) => node[key] !== undefined).map((key) => {
    const value = Array.isArray(node[key]) ? node[key].join(", ") : String(node[key]);
    return h("div", { class: "plan-detail" }, `${key}: ${value}`);
  });
  const below = children(node);
  return h(
    "li",
    { "data-share": share.toFixed(3), class: isWorst ? "costliest" : null },
    h("span", { class: "cost-share", title: "this node's own share of the plan's cost" }, `${formatNumber(share * 100, 1)} %`),
    " ",
    shareBar(share),
    " ",
    h("span", { class: isWorst ? "plan-node costliest" : "plan-node" }, nodeTitle(node)),
    isWorst ? h("span", { class: "badge status-failed" }, "costliest") : null,
    " ",
    h("span", { class: "muted small" }, costs),
    details,
    below.length ? h("ul", {}, below.map((child) => nodeItem(child, rootCost, worst))) : null,
  );
}

export function planTree(plan) {
  const root = rootNode(plan);
  if (!root) return h("p", { class: "muted" }, "No plan yet: the agent samples plans of the busiest statements.");
  return h("ul", { class: "plan-tree" }, nodeItem(root, Number(root["Total Cost"] || 0), costliest(root)));
}
