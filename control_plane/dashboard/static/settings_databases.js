// Settings · Databases and agent tokens: add a database, rotate its agent's token (shown once, with
// the server's own command to run the agent), remove it after typing its name.

import { api } from "./api.js";
import { errorLine, formatWhen, h, replaceContent } from "./dom.js";
import { can } from "./session.js";
import { confirmStep, copyable, field, scrollingTable } from "./settings_parts.js";

// The token, this once (the API never returns it again), and the server's `agent_command`: a full
// `docker run` line pointed at the control plane's public URL. The page builds no command itself,
// since only the server knows the address an agent outside this browser's network can reach.
export function tokenPanel(databaseName, answer) {
  return h(
    "div",
    { class: "secret", id: "agent-token-panel", role: "status" },
    h("h3", {}, `New agent token for ${databaseName}`),
    h("p", {}, "Shown only now: store it in the agent's configuration. The previous token no longer works."),
    copyable("token", answer.agent_token, { id: "agent-token" }),
    answer.agent_command
      ? [
          h("h3", {}, "Run the agent"),
          copyable("command", answer.agent_command, { id: "agent-command" }),
          answer.agent_command.includes("DB_HOST")
            ? h("p", { class: "muted" }, "Replace DB_HOST and DB_NAME with the monitored database's address; the agent reads its statistics from there.")
            : null,
        ]
      : h("p", { class: "muted" }, "Give this token to the agent as OPTISCHEMA_AGENT_TOKEN."),
  );
}

function databaseRow(database, secretArea, reload) {
  const actions = [];
  if (can("agent_token.rotate")) {
    actions.push(
      confirmStep(
        "Rotate token",
        `Make a new agent token for ${database.name}? The agent using the current one stops reporting until it gets the new one.`,
        async () => {
          const rotated = await api("POST", `/databases/${encodeURIComponent(database.id)}/agent-token`);
          replaceContent(secretArea, tokenPanel(database.name, rotated)); // first: it is shown only once
          secretArea.scrollIntoView({ block: "nearest" });
          await reload();
        },
        { confirmLabel: "Rotate now" },
      ),
    );
  }
  if (can("database.delete")) {
    actions.push(
      confirmStep(
        "Delete",
        `Delete ${database.name} with all its statistics, recommendations and history? This cannot be undone.`,
        async () => {
          await api("DELETE", `/databases/${encodeURIComponent(database.id)}`);
          replaceContent(secretArea);
          await reload();
        },
        { requiredText: database.name, confirmLabel: "Delete database" },
      ),
    );
  }
  return h(
    "tr",
    { "data-database-id": database.id, "data-name": database.name },
    h("td", {}, h("a", { href: `#/databases/${encodeURIComponent(database.id)}` }, database.name)),
    h(
      "td",
      {},
      formatWhen(database.agent_last_seen_at),
      // No agent yet: what to run, with <token> where the token (shown only once) goes.
      !database.agent_last_seen_at && database.agent_command_template
        ? h("details", { class: "agent-template" }, h("summary", {}, "Run its agent"), copyable("command", database.agent_command_template))
        : null,
    ),
    h("td", {}, database.agent_version || "–"),
    h("td", {}, h("div", { class: "row-actions" }, actions)),
  );
}

function addDatabaseForm(secretArea, reload) {
  const name = h("input", { name: "name", required: true, maxlength: 200, autocomplete: "off", placeholder: "e.g. shop" });
  const problem = h("div");
  const form = h(
    "form",
    { id: "settings-add-database", class: "settings-form" },
    h("h3", {}, "Add a database"),
    field("Name", name),
    h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary" }, "Add database")),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceContent(problem);
    try {
      const created = await api("POST", "/databases", { name: name.value.trim() });
      form.reset();
      replaceContent(secretArea, tokenPanel(created.name, created)); // first: it is shown only once
      await reload();
    } catch (error) {
      replaceContent(problem, errorLine(error));
    }
  });
  return form;
}

// `onChange` lets the sections that list databases (maintenance, analyses) follow additions.
export async function databasesSection(onChange = async () => {}) {
  const secretArea = h("div", { "aria-live": "polite" });
  const listArea = h("div");
  async function reload() {
    const databases = await api("GET", "/databases");
    replaceContent(
      listArea,
      databases.length === 0
        ? h("p", { class: "muted" }, can("database.create") ? "No databases yet: add one below, then run its agent." : "No databases yet.")
        : scrollingTable(
            { id: "settings-databases" },
            ["Database", "Agent last seen", "Agent version", ""],
            databases.map((database) => databaseRow(database, secretArea, reload)),
          ),
    );
    await onChange(databases);
  }
  try {
    await reload();
  } catch (error) {
    replaceContent(listArea, errorLine(error));
  }
  return h("div", {}, listArea, secretArea, can("database.create") ? addDatabaseForm(secretArea, reload) : null);
}
