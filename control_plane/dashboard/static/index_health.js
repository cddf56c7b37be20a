// Index health: indexes that cost writes and space and serve no reads (unused), or repeat another
// (duplicate, a prefix of another: redundant), or were left broken by a failed build (invalid).
// Each links to its `drop_index` recommendation, which goes through the same approve-and-apply
// flow as any change (the agent runs DROP INDEX CONCURRENTLY).

import { api } from "./api.js";
import { databaseHeading, databaseHref, findDatabase } from "./database_nav.js";
import { emptyState, formatBytes, formatDuration, formatNumber, h, scrollBox } from "./dom.js";
import { onLive } from "./live.js";

const KIND_TEXT = {
  unused: "unused",
  duplicate: "duplicate",
  redundant: "prefix-redundant",
  invalid: "invalid",
};

function recommendationLink(databaseId, row) {
  if (!row.recommendation_id) return h("span", { class: "muted" }, "–");
  return h(
    "span",
    {},
    h("a", { href: databaseHref(databaseId, `/recommendations/${encodeURIComponent(row.recommendation_id)}`), class: "drop-link" }, "Review drop"),
    row.recommendation_status ? [" ", h("span", { class: `badge status-${row.recommendation_status}` }, row.recommendation_status.replace("_", " "))] : null,
  );
}

function healthTable(databaseId, rows) {
  return scrollBox(
    h(
      "table",
      { id: "index-health", "aria-label": "index findings" },
      h("thead", {}, h("tr", {}, ["Finding", "Index", "Table", "Size", "Scans", "Statistics gathering", "Writes slowed", "Why", "Recommendation"].map((title, index) => h("th", { scope: "col", class: index === 3 || index === 4 ? "num" : null }, title)))),
      h(
        "tbody",
        {},
        rows.map((row) =>
          h(
            "tr",
            { "data-kind": row.kind, "data-index": row.index },
            h("td", {}, h("span", { class: `badge kind-${row.kind}` }, KIND_TEXT[row.kind] || row.kind)),
            h("td", {}, h("code", {}, row.index)),
            h("td", {}, h("code", {}, row.table)),
            h("td", { class: "num" }, formatBytes(row.size_bytes)),
            h("td", { class: "num" }, formatNumber(row.scans)),
            h("td", {}, row.stats_age_seconds === undefined || row.stats_age_seconds === null ? "–" : formatDuration(row.stats_age_seconds)),
            h("td", {}, row.table_writes_per_second === undefined || row.table_writes_per_second === null ? "–" : `${formatNumber(row.table_writes_per_second, 1)} rows/s`),
            h("td", { class: "small" }, row.reason),
            h("td", {}, recommendationLink(databaseId, row)),
          ),
        ),
      ),
    ),
  );
}

export async function indexHealthView(databaseId, { refresh }) {
  const database = await findDatabase(databaseId);
  const path = `/databases/${encodeURIComponent(databaseId)}/index-health`;
  const area = h("div");
  const draw = (rows) =>
    area.replaceChildren(
      rows.length === 0
        ? emptyState("No unused, duplicate, redundant or invalid index in the latest snapshot.", h("p", { class: "muted" }, "Unused indexes show once the index statistics have been gathering for 7 days."))
        : healthTable(databaseId, rows),
    );
  draw(await api("GET", path));
  onLive(async (kind) => {
    if (kind !== "job" && area.isConnected) draw(await api("GET", path));
  });
  return h(
    "section",
    {},
    databaseHeading(database, "index-health", { refresh }),
    h("h1", {}, `Index health · ${database.name}`),
    h("p", { class: "warning", role: "note" }, "Scans are counted on this server only: an index used by queries on a read replica shows as unused here. Check the replicas before dropping it."),
    area,
  );
}
