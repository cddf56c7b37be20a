// Databases: each with its agent's last contact and version; admins add, re-key and remove them.

import { api } from "./api.js";
import { actionButton, errorLine, formatWhen, h, replaceContent } from "./dom.js";
import { can } from "./session.js";

const path = (id) => `/databases/${encodeURIComponent(id)}`;

function agentCommands(token) {
  const origin = window.location.origin;
  const docker = [
    "docker run -d --name optischema-agent --restart unless-stopped \\",
    "  -e OPTISCHEMA_DATABASE_URL='postgresql://optischema@DB_HOST:5432/DB_NAME' \\",
    `  -e OPTISCHEMA_API_URL='${origin}' \\`,
    `  -e OPTISCHEMA_AGENT_TOKEN='${token}' \\`,
    "  -v optischema-agent-spool:/var/lib/optischema-agent \\",
    "  optischema-agent run",
  ].join("\n");
  const plain = [
    "export OPTISCHEMA_DATABASE_URL='postgresql://optischema@DB_HOST:5432/DB_NAME'",
    `export OPTISCHEMA_API_URL='${origin}'`,
    `export OPTISCHEMA_AGENT_TOKEN='${token}'`,
    "optischema-agent check && optischema-agent run",
  ].join("\n");
  return [docker, plain];
}

// The agent token, shown this once: the API never returns it again.
function tokenPanel(name, token) {
  const [docker, plain] = agentCommands(token);
  const copied = h("span", { class: "muted" });
  const copy = h("button", { type: "button" }, "Copy token");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(token);
      copied.textContent = "copied";
    } catch {
      copied.textContent = "select the token and copy it by hand";
    }
  });
  return h(
    "section",
    { class: "secret", role: "status" },
    h("h3", {}, `Agent token for ${name}`),
    h("p", {}, "Shown only now: store it in the agent's configuration. Rotating it makes a new one."),
    h("pre", { class: "token" }, token),
    h("div", { class: "toolbar" }, copy, copied),
    h("h3", {}, "Run the agent with Docker"),
    h("pre", {}, docker),
    h("h3", {}, "…or installed with pip (optischema)"),
    h("pre", {}, plain),
  );
}

function addDatabaseForm(secretArea, refreshList) {
  const name = h("input", { name: "name", placeholder: "database name, e.g. shop", required: true, maxlength: 200 });
  const problem = h("div");
  const form = h("form", { class: "toolbar", id: "add-database" }, name, h("button", { type: "submit", class: "primary" }, "Add database"), problem);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceContent(problem);
    try {
      const created = await api("POST", "/databases", { name: name.value.trim() });
      name.value = "";
      replaceContent(secretArea, tokenPanel(created.name, created.agent_token));
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
          replaceContent(secretArea, tokenPanel(database.name, rotated.agent_token));
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
    h("td", {}, h("a", { href: `#/databases/${encodeURIComponent(database.id)}/queries` }, database.name)),
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
        replaceContent(listArea, h("p", { class: "muted" }, "No databases yet."));
        return;
      }
      replaceContent(
        listArea,
        h(
          "table",
          { id: "databases" },
          h("thead", {}, h("tr", {}, ["Database", "Agent last seen", "Agent", "PostgreSQL", "Spool", "", ""].map((title) => h("th", {}, title)))),
          h("tbody", {}, databases.map((database) => databaseRow(database, secretArea, refreshList))),
        ),
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
