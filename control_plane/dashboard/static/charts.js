// Small pictures drawn as DOM: a sparkline of a time series (inline SVG) and a plan as a node tree.

import { formatNumber, h, svg } from "./dom.js";

const WIDTH = 480;
const HEIGHT = 60;
const PAD = 3;

// values: numbers oldest first -> an <svg> with one polyline scaled to fit.
export function sparkline(values, label) {
  const chart = svg("svg", { class: "sparkline", width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": label });
  if (values.length === 0) return chart;
  const max = Math.max(...values);
  const min = Math.min(...values);
  const span = max - min || 1;
  const step = values.length > 1 ? (WIDTH - 2 * PAD) / (values.length - 1) : 0;
  const points = values.map((value, index) => {
    const x = PAD + index * step;
    const y = HEIGHT - PAD - ((value - min) / span) * (HEIGHT - 2 * PAD);
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  if (points.length === 1) points.push(`${WIDTH - PAD},${points[0].split(",")[1]}`);
  chart.append(svg("title", {}, label), svg("polyline", { points: points.join(" ") }));
  return chart;
}

// EXPLAIN (FORMAT JSON) comes as [{"Plan": ...}], {"Plan": ...} or a bare node.
function rootNode(plan) {
  let node = Array.isArray(plan) ? plan[0] : plan;
  if (node && node.Plan) node = node.Plan;
  return node && typeof node === "object" ? node : null;
}

const DETAIL_KEYS = ["Index Cond", "Recheck Cond", "Filter", "Join Filter", "Hash Cond", "Merge Cond", "Sort Key", "Group Key"];

function nodeTitle(node) {
  let title = String(node["Node Type"] || "?");
  if (node["Parallel Aware"]) title = `Parallel ${title}`;
  if (node["Index Name"]) title += ` using ${node["Index Name"]}`;
  if (node["Relation Name"]) {
    const schema = node.Schema ? `${node.Schema}.` : "";
    title += ` on ${schema}${node["Relation Name"]}`;
    if (node.Alias && node.Alias !== node["Relation Name"]) title += ` ${node.Alias}`;
  }
  return title;
}

function nodeItem(node) {
  const costs = `cost=${formatNumber(node["Startup Cost"], 2)}..${formatNumber(node["Total Cost"], 2)} rows=${formatNumber(node["Plan Rows"])}`;
  const details = DETAIL_KEYS.filter((key) => node[key] !== undefined).map((key) => {
    const value = Array.isArray(node[key]) ? node[key].join(", ") : String(node[key]);
    return h("div", { class: "plan-detail" }, `${key}: ${value}`);
  });
  const children = Array.isArray(node.Plans) ? node.Plans : [];
  return h(
    "li",
    {},
    h("span", { class: "plan-node" }, nodeTitle(node)),
    " ",
    h("span", { class: "muted" }, costs),
    details,
    children.length ? h("ul", {}, children.map(nodeItem)) : null,
  );
}

export function planTree(plan) {
  const root = rootNode(plan);
  if (!root) return h("p", { class: "muted" }, "No plan yet: the agent samples plans of the busiest statements.");
  return h("ul", { class: "plan-tree" }, nodeItem(root));
}
