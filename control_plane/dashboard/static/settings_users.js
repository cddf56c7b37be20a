// Settings · Users: who may sign in to this tenant and with which role (admins, `user.manage`).

import { api } from "./api.js";
import { errorLine, formatWhen, h, replaceContent } from "./dom.js";
import { session } from "./session.js";
import { confirmStep, field, formatDate, scrollingTable, select } from "./settings_parts.js";

// The server's roles (control_plane/auth/permissions.py, ROLES); what each may do is the server's.
const ROLES = [
  ["viewer", "viewer"],
  ["analyst", "analyst"],
  ["admin", "admin"],
];
const MIN_PASSWORD = 12; // UserCreate.password's min_length

function roleControl(user, itsMe, reload) {
  const problem = h("div");
  const chooser = select("role", ROLES, user.role);
  chooser.setAttribute("aria-label", `Role of ${user.email}`);
  // Demoting yourself could leave the tenant without an admin (the API allows it): another admin must.
  chooser.disabled = user.disabled || itsMe;
  if (itsMe) chooser.title = "Another admin can change your role";
  chooser.addEventListener("change", async () => {
    chooser.disabled = true;
    replaceContent(problem);
    try {
      await api("PATCH", `/users/${encodeURIComponent(user.id)}`, { role: chooser.value });
      await reload();
    } catch (error) {
      chooser.value = user.role;
      chooser.disabled = false;
      replaceContent(problem, errorLine(error));
    }
  });
  return h("div", {}, chooser, problem);
}

function userRow(user, reload) {
  const itsMe = session.user && session.user.id === user.id;
  const disable =
    user.disabled || itsMe
      ? null
      : confirmStep(
          "Disable",
          `Disable ${user.email}? They are signed out and cannot sign in again.`,
          async () => {
            await api("POST", `/users/${encodeURIComponent(user.id)}/disable`);
            await reload();
          },
        );
  return h(
    "tr",
    { "data-user-id": user.id, "data-email": user.email },
    h("td", {}, user.email, itsMe ? h("span", { class: "muted" }, " (you)") : null),
    h("td", {}, roleControl(user, itsMe, reload)),
    h("td", { class: "user-state" }, user.disabled ? h("span", { class: "badge status-failed" }, "disabled") : h("span", { class: "badge status-applied" }, "active")),
    h("td", {}, formatDate(user.created_at)),
    h("td", {}, user.last_login_at ? formatWhen(user.last_login_at) : "never"),
    h("td", {}, disable),
  );
}

function createUserForm(onCreated) {
  const email = h("input", { type: "email", name: "email", required: true, maxlength: 320, autocomplete: "off" });
  const password = h("input", { type: "password", name: "password", required: true, minlength: MIN_PASSWORD, maxlength: 1024, autocomplete: "new-password" });
  const role = select("role", ROLES, "viewer");
  const problem = h("div");
  const form = h(
    "form",
    { id: "create-user", class: "settings-form" },
    h("h3", {}, "Add a user"),
    field("Email", email),
    field("Password", password, `At least ${MIN_PASSWORD} characters; they can change it after signing in.`),
    field("Role", role),
    h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary" }, "Add user")),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceContent(problem);
    try {
      const created = await api("POST", "/users", { email: email.value.trim(), password: password.value, role: role.value });
      form.reset();
      await onCreated(created);
    } catch (error) {
      replaceContent(problem, errorLine(error));
    }
  });
  return form;
}

export async function usersSection() {
  const listArea = h("div", { id: "users-list" });
  const created = h("p", { class: "muted", role: "status" });
  async function reload() {
    let users;
    try {
      users = await api("GET", "/users");
    } catch (error) {
      if (error.status === 404 || error.status === 405) {
        replaceContent(listArea, h("p", { class: "notice" }, "This server cannot list users yet (GET /api/v1/users is missing): you can still add users below."));
        return;
      }
      replaceContent(listArea, errorLine(error));
      return;
    }
    replaceContent(
      listArea,
      scrollingTable({ id: "users" }, ["Email", "Role", "State", "Created", "Last sign-in", ""], users.map((user) => userRow(user, reload))),
    );
  }
  await reload();
  const form = createUserForm(async (user) => {
    created.textContent = `Added ${user.email} as ${user.role}.`;
    await reload();
  });
  return h("div", {}, listArea, form, created);
}
