// Settings (#/settings): the signed-in user's account, then one card per thing the server lets the
// user manage: users, databases and agent tokens, the LLM, webhooks, maintenance windows, and the
// analysis history. A card appears only when `GET /me`'s permissions allow it (session.can), so a
// viewer sees their account, the databases and the analysis history, and nothing they may not do.

import { api, goToLogin, signIn } from "./api.js";
import { errorLine, h, replaceContent } from "./dom.js";
import { can, session } from "./session.js";
import { analysesSection } from "./settings_analyses.js";
import { databasesSection } from "./settings_databases.js";
import { llmSection } from "./settings_llm.js";
import { maintenanceSection } from "./settings_maintenance.js";
import { card, field, loadedCard } from "./settings_parts.js";
import { usersSection } from "./settings_users.js";
import { webhooksSection } from "./settings_webhooks.js";

const MIN_PASSWORD = 12; // PasswordChange.new_password's min_length

function passwordForm(email) {
  // Password managers match a new password to its account by a username field next to it.
  const username = h("input", { type: "email", name: "username", autocomplete: "username", value: email, hidden: true, readonly: true, "aria-label": "Email" });
  const current = h("input", { type: "password", name: "current_password", required: true, autocomplete: "current-password" });
  const next = h("input", { type: "password", name: "new_password", required: true, minlength: MIN_PASSWORD, maxlength: 1024, autocomplete: "new-password" });
  const again = h("input", { type: "password", name: "new_password_again", required: true, minlength: MIN_PASSWORD, maxlength: 1024, autocomplete: "new-password" });
  const outcome = h("div", { role: "status" });
  const form = h(
    "form",
    { id: "change-password", class: "settings-form" },
    h("h3", {}, "Change your password"),
    username,
    field("Current password", current),
    field("New password", next, `At least ${MIN_PASSWORD} characters.`),
    field("New password again", again),
    h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary" }, "Change password")),
    outcome,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceContent(outcome);
    if (next.value !== again.value) {
      replaceContent(outcome, h("p", { class: "error", role: "alert" }, "The two new passwords differ."));
      return;
    }
    try {
      await api("POST", "/me/password", { current_password: current.value, new_password: next.value });
    } catch (error) {
      replaceContent(outcome, errorLine(error));
      return;
    }
    // The change signs out every session of this user, this tab's too: sign in again with the new one.
    try {
      await signIn(email, next.value);
      form.reset();
      replaceContent(outcome, h("p", { class: "ok" }, "Password changed; your other sessions are signed out."));
    } catch {
      goToLogin();
    }
  });
  return form;
}

function accountCard() {
  const user = session.user || {};
  return card(
    "account",
    "Your account",
    h(
      "dl",
      { class: "account-facts" },
      h("dt", {}, "Email"),
      h("dd", { id: "account-email" }, user.email || "–"),
      h("dt", {}, "Role"),
      h("dd", { id: "account-role" }, h("span", { class: "badge" }, user.role || "–")),
    ),
    passwordForm(user.email || ""),
  );
}

// Cards that show one database at a time follow the Databases card's additions and removals.
async function perDatabaseCard(key, title, build, databases, followers) {
  try {
    const section = await build(databases);
    followers.push(section);
    return card(key, title, section.element);
  } catch (error) {
    return card(key, title, errorLine(error));
  }
}

function contents(cards) {
  const links = cards
    .filter((section) => section.id !== "settings-account")
    .map((section) => {
      const jump = h("button", { type: "button", class: "link-like" }, section.querySelector("h2").textContent);
      jump.addEventListener("click", () => {
        section.scrollIntoView({ block: "start" });
        section.querySelector("h2").focus();
      });
      return h("li", {}, jump);
    });
  return h("nav", { class: "settings-contents", "aria-label": "Settings sections" }, h("ul", {}, links));
}

export async function settingsView(ctx = {}) {
  void ctx; // ctx.refresh re-renders the whole page; each card reloads only itself instead
  let databases = [];
  if (can("database.read")) {
    try {
      databases = await api("GET", "/databases");
    } catch {
      databases = []; // the Databases card reports the failure in its own box
    }
  }
  const followers = [];
  const databasesCard = can("database.read")
    ? loadedCard("databases", "Databases and agent tokens", () =>
        databasesSection(async (list) => {
          for (const follower of followers) await follower.update(list);
        }),
      )
    : null;
  const planned = [
    accountCard(),
    can("user.manage") ? loadedCard("users", "Users", usersSection) : null,
    databasesCard,
    can("llm_settings.manage") ? loadedCard("llm", "LLM provider and budget", llmSection) : null,
    can("webhook.manage") ? loadedCard("webhooks", "Webhooks", webhooksSection) : null,
    can("maintenance_window.manage") ? perDatabaseCard("maintenance", "Maintenance windows", maintenanceSection, databases, followers) : null,
    can("database.read") ? perDatabaseCard("analyses", "Analysis history", analysesSection, databases, followers) : null,
  ];
  const cards = (await Promise.all(planned)).filter(Boolean);
  for (const section of cards) section.querySelector("h2").setAttribute("tabindex", "-1");
  return h("div", { class: "settings-page", id: "settings" }, h("h1", {}, "Settings"), cards.length > 2 ? contents(cards) : null, cards);
}
