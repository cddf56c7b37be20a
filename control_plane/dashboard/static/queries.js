// A database's top queries over the time range: calls, total and mean time, rows per call, cache
// hit ratio, temp blocks and share of load; searched by text or table name, sorted, paged, and
// exported as CSV or JSON (the API's own exports, over the same range and search).

import { analyzeButton } from "./analysis_run.js";
import { apiPage, download } from "./api.js";
import { databaseHeading, databaseHref, findDatabase } from "./database_nav.js";
import { emptyState, errorLine, formatMs, formatNumber, formatPct, h, replaceContent, scrollBox } from "./dom.js";
import { onLive } from "./live.js";
import { rangeLabel, rangeQuery } from "./range.js";

const PAGE_SIZE = 50;
const COLUMNS = [
  // [key, title, sort key or null, cell]
  ["calls", "Calls", "calls", (query) => formatNumber(query.calls)],
  ["total", "Total time", "total_time", (query) => formatMs(query.total_exec_time_ms)],
  ["mean", "Mean time", "mean_time", (query) => formatMs(query.mean_exec_time_ms)],
  ["rows", "Rows", "rows", (query) => formatNumber(query.rows)],
  ["rows_per_call", "Rows / call", null, (query) => (query.rows_per_call === undefined ? "–" : formatNumber(query.rows_per_call, query.rows_per_call < 10 ? 1 : 0))],
  ["hit", "Cache hit", null, (query) => formatPct(query.cache_hit_pct)],
  ["read", "Blocks read", "shared_blks_read", (query) => formatNumber(query.shared_blks_read)],
  ["temp", "Temp blocks", "temp_blks_written", (query) => formatNumber(query.temp_blks_written)],
];

function queriesTable(databaseId, queries, state, reorder) {
  const header = ([key, title, sortKey]) => {
    if (!sortKey) return h("th", { class: "num", scope: "col" }, title);
    const active = sortKey === state.orderBy;
    const button = h("button", { type: "button", class: active ? "sort active" : "sort", "data-order": sortKey, "aria-label": `sort by ${title.toLowerCase()}` }, title, active ? " ↓" : "");
    button.addEventListener("click", () => reorder(sortKey));
    return h("th", { class: "num", scope: "col", "aria-sort": active ? "descending" : null }, button);
  };
  return scrollBox(
    h(
      "table",
      { id: "queries", "aria-label": "top queries" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Query"), COLUMNS.map(header), h("th", { scope: "col" }, "Load"))),
      h(
        "tbody",
        {},
        queries.map((query) =>
          h(
            "tr",
            { "data-fingerprint": query.fingerprint },
            h("td", { class: "query" }, h("a", { href: databaseHref(databaseId, `/queries/${encodeURIComponent(query.fingerprint)}`) }, h("code", {}, query.query))),
            COLUMNS.map(([key, , , cell]) => h("td", { class: "num", "data-column": key }, cell(query))),
            h("td", { class: "num" }, h("progress", { max: 100, value: Math.min(100, query.load_pct), "aria-hidden": "true" }), " ", formatPct(query.load_pct)),
          ),
        ),
      ),
    ),
  );
}

function pager(state, total, shown, go) {
  if (total === null) return null;
  const first = total === 0 ? 0 : state.offset + 1;
  const last = state.offset + shown;
  const previous = h("button", { type: "button", disabled: state.offset === 0 }, "← Previous");
  const next = h("button", { type: "button", disabled: last >= total }, "Next →");
  previous.addEventListener("click", () => go(Math.max(0, state.offset - PAGE_SIZE)));
  next.addEventListener("click", () => go(state.offset + PAGE_SIZE));
  return h("div", { class: "pager", role: "navigation", "aria-label": "pages" }, previous, h("span", { class: "page-position" }, `${formatNumber(first)}–${formatNumber(last)} of ${formatNumber(total)}`), next);
}

export async function queriesView(databaseId, { refresh }) {
  const database = await findDatabase(databaseId);
  const statusArea = h("div");
  const tableArea = h("div");
  const state = { orderBy: "total_time", offset: 0, search: "" };
  const base = `/databases/${encodeURIComponent(databaseId)}/queries`;
  const query = (extra = "") => {
    const search = state.search ? `&q=${encodeURIComponent(state.search)}` : "";
    return `${base}?order_by=${state.orderBy}&${rangeQuery()}${search}${extra}`;
  };
  async function load() {
    try {
      const { items, total } = await apiPage(query(`&limit=${PAGE_SIZE}&offset=${state.offset}`));
      if (!tableArea.isConnected && tableArea.dataset.loaded) return;
      tableArea.dataset.loaded = "1";
      if (items.length === 0) {
        replaceContent(
          tableArea,
          state.search
            ? h("p", { class: "muted" }, `No statement matches “${state.search}” in the ${rangeLabel()}.`)
            : emptyState(`No statements in the ${rangeLabel()}.`, h("p", {}, "They appear after the agent's first two snapshots (the first one only sets the baseline); try a longer time range.")),
        );
        return;
      }
      const reorder = (order) => {
        state.orderBy = order;
        state.offset = 0;
        load();
      };
      const go = (offset) => {
        state.offset = offset;
        load();
      };
      replaceContent(tableArea, queriesTable(databaseId, items, state, reorder), pager(state, total, items.length, go));
    } catch (error) {
      replaceContent(tableArea, errorLine(error));
    }
  }
  const search = h("input", { type: "search", name: "q", placeholder: "Search text or table", "aria-label": "search queries by text or table" });
  const searchForm = h("form", { class: "toolbar", role: "search" }, search, h("button", { type: "submit" }, "Search"));
  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    state.search = search.value.trim();
    state.offset = 0;
    load();
  });
  const exportAs = (format) =>
    h("button", { type: "button", "data-export": format, onclick: () => download(query(`&limit=1000&format=${format}`), `${database.name}-queries.${format}`).catch((error) => replaceContent(statusArea, errorLine(error))) }, `Export ${format.toUpperCase()}`);
  await load();
  onLive((kind) => (kind === "snapshot" || kind === "reopened") && load());
  return h(
    "section",
    {},
    databaseHeading(database, "queries", { refresh, withRange: true }),
    h("h1", {}, `Top queries · ${database.name}`),
    h("p", { class: "muted" }, `Over the ${rangeLabel()}; sort by any underlined column.`),
    h("div", { class: "toolbar" }, searchForm, h("span", { class: "spacer" }), exportAs("csv"), exportAs("json"), analyzeButton(databaseId, statusArea)),
    statusArea,
    tableArea,
  );
}
