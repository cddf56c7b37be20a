// The dashboard shell: who is signed in, the hash router, one view at a time in <main>, and the
// live stream of the database on screen (live.js).
//
// Routes:  #/databases                         databases and their agents
//          #/databases/<id>                     overview: agent, KPIs, load, open recommendations
//          #/databases/<id>/queries             top queries over the time range
//          #/databases/<id>/queries/<fp>        one query: charts, plan, explanation, recommendations
//          #/databases/<id>/heatmap             the busiest statements against time
//          #/databases/<id>/recommendations     recommendations, grouped with their alternatives
//          #/databases/<id>/recommendations/<r> one recommendation: squawk's findings, timeline
//          #/databases/<id>/index-health        unused, duplicate, redundant and invalid indexes
//          #/audit                              the audit log (admins)
//          #/settings                           users, tokens, LLM, webhooks, windows, analyses

import { api, goToLogin, hasSession, signOut } from "./api.js";
import { auditView } from "./audit.js";
import { databasesView } from "./databases.js";
import { errorLine, h, replaceContent } from "./dom.js";
import { heatmapView } from "./heatmap.js";
import { indexHealthView } from "./index_health.js";
import { clearLiveHandlers, watchDatabase } from "./live.js";
import { overviewView } from "./overview.js";
import { queryDetailView } from "./query_detail.js";
import { queriesView } from "./queries.js";
import { recommendationDetailView, recommendationsView } from "./recommendations.js";
import { can, session } from "./session.js";
import { settingsView } from "./settings.js";

const view = document.getElementById("view");

const ROUTES = [
  [/^#\/databases\/([^/]+)$/, overviewView],
  [/^#\/databases\/([^/]+)\/queries\/([^/]+)$/, queryDetailView],
  [/^#\/databases\/([^/]+)\/queries$/, queriesView],
  [/^#\/databases\/([^/]+)\/heatmap$/, heatmapView],
  [/^#\/databases\/([^/]+)\/recommendations$/, recommendationsView],
  [/^#\/databases\/([^/]+)\/recommendations\/([^/]+)$/, recommendationDetailView],
  [/^#\/databases\/([^/]+)\/index-health$/, indexHealthView],
  [/^#\/audit$/, auditView],
  [/^#\/settings$/, settingsView],
  [/^#\/databases$/, databasesView],
];
const DATABASE_ROUTE = /^#\/databases\/([^/]+)/;

// Each navigation gets a number: a slow answer for a page the user already left is dropped.
let currentRender = 0;

export function isCurrent(renderId) {
  return renderId === currentRender;
}

function markSection(hash) {
  for (const [id, prefix] of [["nav-databases", "#/databases"], ["nav-audit", "#/audit"], ["nav-settings", "#/settings"]]) {
    const link = document.getElementById(id);
    if (!link) continue;
    if (hash.startsWith(prefix)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function render({ navigated = false } = {}) {
  const renderId = ++currentRender;
  const hash = window.location.hash || "#/databases";
  const match = ROUTES.map(([pattern, page]) => [hash.match(pattern), page]).find(([found]) => found);
  clearLiveHandlers();
  const database = hash.match(DATABASE_ROUTE);
  watchDatabase(database ? decodeURIComponent(database[1]) : null);
  markSection(hash);
  if (!match) {
    replaceContent(view, h("p", {}, "No such page. "), h("a", { href: "#/databases" }, "Back to databases"));
    return;
  }
  if (navigated) replaceContent(view, h("p", { class: "muted" }, "Loading…"));
  const [found, page] = match;
  const params = found.slice(1).map(decodeURIComponent);
  try {
    const content = await page(...params, { refresh: () => render(), isCurrent: () => isCurrent(renderId) });
    if (isCurrent(renderId)) {
      replaceContent(view, content);
      if (navigated) view.focus({ preventScroll: true });
    }
  } catch (error) {
    if (isCurrent(renderId)) replaceContent(view, errorLine(error));
  }
}

async function start() {
  if (!hasSession()) {
    goToLogin();
    return;
  }
  document.getElementById("sign-out").addEventListener("click", signOut);
  try {
    session.user = await api("GET", "/me");
  } catch (error) {
    const banner = document.getElementById("global-error");
    banner.textContent = `Could not load your account: ${error.detail || error.message}`;
    banner.hidden = false;
    return;
  }
  document.getElementById("user-email").textContent = session.user.email;
  document.getElementById("user-role").textContent = session.user.role;
  document.getElementById("nav-audit").hidden = !can("audit.read");
  window.addEventListener("hashchange", () => render({ navigated: true }));
  await render({ navigated: false });
}

start();
