// Databases: each with its agent's last contact and version; admins add, re-key and remove them.
// A database's name opens its overview.

import { api } from "./api.js";
import { actionButton, emptyState, errorLine, formatWhen, h, replaceContent, scrollBox } from "./dom.js";
import { privacyBadge } from "./database_nav.js";
import { tokenPanel } from "./settings_databases.js";
import { can } from "./session.js";

const path = (id) => `/databases/${encodeURIComponent(id)}`;

function addDatabaseForm(secretArea, refreshList) {
  const name = h("input", { name: "name", "aria-label": "database name", placeholder: "database name, e.g. shop", required: true, maxlength: 200 });
  const problem = h("div");
  const form = h("form", { class: "toolbar", id: "add-database" }, name, h("button", { type: "submit", class: "primary" }, "Add database"), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceContent(problem);
    try {
      const created = await api("POST", "/databases", { name: name.value.trim() });
      name.value = "";
      replaceContent(secretArea, tokenPanel(created.name, created));
      await refreshList();
    } catch (error) {
      replaceContent(problem, errorLine(error));
    }
  });
  return form;
}

function databaseRow(database, secretArea, refreshList) {
  const problem = h("div");
  const actions = [];
  if (can("agent_token.rotate")) {
    actions.push(
      actionButton(
        "Rotate agent token",
        async () => {
          if (!window.confirm(`Make a new agent token for ${database.name}? The current one stops working.`)) return;
          const rotated = await api("POST", `${path(database.id)}/agent-token`);
          replaceContent(secretArea, tokenPanel(database.name, rotated));
        },
        { errorTarget: problem },
      ),
    );
  }
  if (can("database.delete")) {
    actions.push(
      actionButton(
        "Delete",
        async () => {
          if (!window.confirm(`Delete ${database.name} and all its data?`)) return;
          await api("DELETE", path(database.id));
          await refreshList();
        },
        { cls: "danger", errorTarget: problem },
      ),
    );
  }
  return h(
    "tr",
    { "data-database-id": database.id },
    h("td", {}, h("a", { href: `#/databases/${encodeURIComponent(database.id)}` }, database.name), " ", privacyBadge(database)),
    h("td", {}, formatWhen(database.agent_last_seen_at)),
    h("td", {}, database.agent_version || "–"),
    h("td", {}, database.server_version || "–"),
    h("td", {}, database.agent_dropped_snapshots ? `${database.agent_dropped_snapshots} dropped` : ""),
    h("td", {}, h("a", { href: `#/databases/${encodeURIComponent(database.id)}/recommendations` }, "Recommendations")),
    h("td", {}, h("div", { class: "toolbar" }, actions), problem),
  );
}

export async function databasesView() {
  const secretArea = h("div");
  const listArea = h("div");
  async function refreshList() {
    try {
      const databases = await api("GET", "/databases");
      if (databases.length === 0) {
        replaceContent(
          listArea,
          emptyState(
            "No databases yet.",
            can("database.create")
              ? h("p", {}, "Add one above: you get the agent's token and the command that starts it next to the database.")
              : h("p", {}, "Ask an admin to add one."),
          ),
        );
        return;
      }
      replaceContent(
        listArea,
        scrollBox(h(
          "table",
          { id: "databases", "aria-label": "databases" },
          h("thead", {}, h("tr", {}, ["Database", "Agent last seen", "Agent", "PostgreSQL", "Spool", "", ""].map((title) => h("th", {}, title)))),
          h("tbody", {}, databases.map((database) => databaseRow(database, secretArea, refreshList))),
        )),
      );
    } catch (error) {
      replaceContent(listArea, errorLine(error));
    }
  }
  await refreshList();
  return h(
    "section",
    {},
    h("h1", {}, "Databases"),
    can("database.create") ? addDatabaseForm(secretArea, refreshList) : null,
    secretArea,
    listArea,
  );
}
