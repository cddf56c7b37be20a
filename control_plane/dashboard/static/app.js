// The dashboard shell: who is signed in, the hash router, and one view at a time in <main>.
//
// Routes:  #/databases                         databases and their agents
//          #/databases/<id>/queries             top queries
//          #/databases/<id>/queries/<fp>        one query: series, plan, explanation, recommendations
//          #/databases/<id>/recommendations     recommendations with their evidence
//          #/databases/<id>/recommendations/<r> one recommendation, with squawk's findings on its SQL
//          #/databases/<id>/maintenance         the maintenance window (admins)
//          #/audit                              the audit log (admins)

import { api, goToLogin, hasSession, signOut } from "./api.js";
import { auditView } from "./audit.js";
import { databasesView } from "./databases.js";
import { errorLine, h, replaceContent } from "./dom.js";
import { maintenanceView } from "./maintenance.js";
import { queryDetailView } from "./query_detail.js";
import { queriesView } from "./queries.js";
import { recommendationDetailView, recommendationsView } from "./recommendations.js";
import { can, session } from "./session.js";
import { settingsView } from "./settings.js";

const view = document.getElementById("view");

const ROUTES = [
  [/^#\/databases\/([^/]+)\/queries\/([^/]+)$/, queryDetailView],
  [/^#\/databases\/([^/]+)\/queries$/, queriesView],
  [/^#\/databases\/([^/]+)\/recommendations$/, recommendationsView],
  [/^#\/databases\/([^/]+)\/recommendations\/([^/]+)$/, recommendationDetailView],
  [/^#\/databases\/([^/]+)\/maintenance$/, maintenanceView],
  [/^#\/audit$/, auditView],
  [/^#\/settings$/, settingsView],
  [/^#\/databases$/, databasesView],
];

// Each navigation gets a number: a slow answer for a page the user already left is dropped.
let currentRender = 0;

export function isCurrent(renderId) {
  return renderId === currentRender;
}

async function render() {
  const renderId = ++currentRender;
  const hash = window.location.hash || "#/databases";
  const match = ROUTES.map(([pattern, page]) => [hash.match(pattern), page]).find(([found]) => found);
  replaceContent(view, h("p", { class: "muted" }, "Loading…"));
  if (!match) {
    replaceContent(view, h("p", {}, "No such page. "), h("a", { href: "#/databases" }, "Back to databases"));
    return;
  }
  const [found, page] = match;
  const params = found.slice(1).map(decodeURIComponent);
  try {
    const content = await page(...params, { refresh: render });
    if (isCurrent(renderId)) replaceContent(view, content);
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
  window.addEventListener("hashchange", render);
  await render();
}

start();
