// Settings · Analysis history: each run of a database's analysis with its notices (why the LLM was
// not asked, what failed), every suggestion it dropped with the reason, and on opening a run, the
// suggestions it kept with their proof.

import { api } from "./api.js";
import { errorLine, formatNumber, formatPct, h, replaceContent } from "./dom.js";
import { databasePicker, formatDate, scrollingTable } from "./settings_parts.js";


function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

function droppedList(dropped) {
  if (dropped.length === 0) return h("p", { class: "muted" }, "Nothing dropped.");
  return h(
    "ul",
    { class: "run-dropped" },
    dropped.map((item) =>
      h(
        "li",
        {},
        h("span", { class: "badge" }, item.kind || "suggestion"),
        " ",
        h("span", { class: "dropped-reason" }, item.reason || "no reason recorded"),
        item.fingerprint ? h("span", { class: "muted" }, ` · statement ${item.fingerprint}`) : null,
        item.sql ? h("pre", {}, item.sql) : null,
      ),
    ),
  );
}

function suggestionsTable(suggestions) {
  if (suggestions.length === 0) return h("p", { class: "muted" }, "No suggestions kept.");
  return scrollingTable(
    { class: "run-suggestions" },
    ["Kind", "Status", "Table", "Improvement", "Reason / SQL"],
    suggestions.map((suggestion) =>
      h(
        "tr",
        {},
        h("td", {}, suggestion.kind, h("div", { class: "muted" }, suggestion.source)),
        h("td", {}, h("span", { class: "badge" }, suggestion.status)),
        h("td", {}, suggestion.table ? `${suggestion.table} (${suggestion.columns.join(", ")})` : "–"),
        h("td", { class: "num" }, formatPct(suggestion.improvement_pct)),
        h("td", {}, suggestion.reason ? h("p", {}, suggestion.reason) : null, h("code", {}, suggestion.sql)),
      ),
    ),
  );
}

function runItem(databaseId, run, open) {
  const kept = h("div", { class: "run-kept" });
  const summary = h(
    "summary",
    {},
    h("strong", {}, formatDate(run.created_at)),
    ` · ${run.trigger} · `,
    h("span", { class: `badge run-${run.status}` }, run.status),
    ` · ${plural(run.notices.length, "notice")}, ${formatNumber(run.dropped.length)} dropped`,
  );
  const details = h(
    "details",
    { class: "analysis-history-run", "data-run-id": run.id, "data-run-status": run.status, open },
    summary,
    run.error ? h("p", { class: "error" }, run.error) : null,
    h("h4", {}, "Notices"),
    run.notices.length === 0 ? h("p", { class: "muted" }, "None.") : h("ul", { class: "run-notices" }, run.notices.map((notice) => h("li", {}, notice))),
    h("h4", {}, "Dropped suggestions"),
    droppedList(run.dropped),
    h("h4", {}, "Kept suggestions"),
    kept,
  );
  let loaded = false;
  async function loadKept() {
    if (!details.open || loaded) return;
    loaded = true;
    replaceContent(kept, h("p", { class: "muted" }, "Loading…"));
    try {
      const full = await api("GET", `/databases/${encodeURIComponent(databaseId)}/analyses/${encodeURIComponent(run.id)}`);
      replaceContent(kept, suggestionsTable(full.suggestions));
    } catch (error) {
      loaded = false;
      replaceContent(kept, errorLine(error));
    }
  }
  details.addEventListener("toggle", loadKept);
  return details;
}

export async function analysesSection(databases) {
  const history = h("div", { id: "analysis-history", "aria-live": "polite" });
  async function show(databaseId) {
    if (!databaseId) {
      replaceContent(history, h("p", { class: "muted" }, "Add a database first."));
      return;
    }
    try {
      const runs = await api("GET", `/databases/${encodeURIComponent(databaseId)}/analyses?limit=20`); // the newest 20: the API's default page
      replaceContent(
        history,
        runs.length === 0
          ? h("p", { class: "muted" }, "No analysis has run yet: they run on their own as statistics arrive, or use Analyze now on the queries page.")
          : runs.map((run, index) => runItem(databaseId, run, index === 0)),
      );
    } catch (error) {
      replaceContent(history, errorLine(error));
    }
  }
  const picker = databasePicker("analyses-database", "Database", databases, (id) => show(id));
  await show(picker.chooser.value);
  return {
    element: h("div", {}, picker.element, history),
    async update(list) {
      const before = picker.chooser.value;
      picker.update(list);
      if (picker.chooser.value !== before) await show(picker.chooser.value);
    },
  };
}
