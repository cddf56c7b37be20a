// Pieces every Settings section uses: a card with its heading, a table that scrolls inside its box,
// labelled fields, a two-step confirmation, and a secret shown once with a copy button.

import { copyButton, errorLine, h, replaceContent, scrollBox } from "./dom.js";

// One section of the page: <section id=settings-<key>> with an <h2> that names it for screen readers.
export function card(key, title, ...children) {
  const headingId = `settings-${key}-title`;
  return h(
    "section",
    { class: "settings-card", id: `settings-${key}`, "aria-labelledby": headingId },
    h("h2", { id: headingId }, title),
    children,
  );
}

// A section whose content comes from the API: a failure stays inside its card, the page lives on.
export async function loadedCard(key, title, build) {
  try {
    return card(key, title, await build());
  } catch (error) {
    return card(key, title, errorLine(error));
  }
}

// Wide tables scroll sideways inside this box, never the page (390 px phones).
export function scrollingTable(attributes, headings, rows) {
  return scrollBox(
    h(
      "table",
      attributes,
      h("thead", {}, h("tr", {}, headings.map((title) => h("th", { scope: "col" }, title)))),
      h("tbody", {}, rows),
    ),
  );
}

export function field(text, control, hint = null) {
  return h("label", { class: "settings-field" }, h("span", { class: "field-label" }, text), control, hint ? h("small", { class: "muted" }, hint) : null);
}

export function select(name, options, chosen) {
  return h(
    "select",
    { name },
    options.map(([value, label]) => h("option", { value, selected: value === chosen }, label)),
  );
}

// A dangerous button that asks first, in the page rather than in a modal: the first click shows
// the question and a confirm button; `requiredText` (e.g. a database's name) must be typed first.
export function confirmStep(label, question, action, { requiredText = null, confirmLabel = null } = {}) {
  const holder = h("div", { class: "confirm-step" });
  const problem = h("div");
  const start = h("button", { type: "button", class: "danger" }, label);
  function reset() {
    replaceContent(holder, start, problem);
  }
  start.addEventListener("click", () => {
    const confirm = h("button", { type: "button", class: "danger confirm" }, confirmLabel || `Confirm ${label.toLowerCase()}`);
    const cancel = h("button", { type: "button" }, "Cancel");
    let typed = null;
    if (requiredText !== null) {
      typed = h("input", { type: "text", class: "confirm-text", autocomplete: "off", spellcheck: "false" });
      confirm.disabled = true;
      typed.addEventListener("input", () => {
        confirm.disabled = typed.value !== requiredText;
      });
    }
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      cancel.disabled = true;
      replaceContent(problem);
      try {
        await action();
      } catch (error) {
        replaceContent(problem, errorLine(error));
        confirm.disabled = typed !== null && typed.value !== requiredText;
        cancel.disabled = false;
      }
    });
    cancel.addEventListener("click", () => {
      reset();
      start.focus();
    });
    replaceContent(
      holder,
      h(
        "div",
        { class: "confirm-box", role: "group", "aria-label": question },
        h("p", {}, question),
        typed ? field(`Type ${requiredText} to confirm`, typed) : null,
        h("div", { class: "toolbar" }, confirm, cancel),
      ),
      problem,
    );
    (typed || confirm).focus();
  });
  reset();
  return holder;
}

// A value shown once (a token, a signing secret, a command) with a button that copies it.
// A value to read and copy once (a token, the agent's command): the dashboard's one copy button.
export function copyable(label, value, { id = null } = {}) {
  return h("div", { class: "sql-block copyable" }, h("pre", { id, tabindex: "0" }, value), copyButton(value, `Copy ${label}`));
}

export function formatDate(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

// A <select> of the tenant's databases for the sections that show one database at a time; `update`
// follows the Databases section's additions and removals, keeping the choice when it still exists.
export function databasePicker(name, label, databases, onPick) {
  const chooser = h("select", { name });
  function update(list) {
    const kept = chooser.value;
    replaceContent(chooser, list.map((database) => h("option", { value: database.id }, database.name)));
    if (list.some((database) => database.id === kept)) chooser.value = kept;
    chooser.disabled = list.length === 0;
  }
  update(databases);
  chooser.addEventListener("change", () => onPick(chooser.value));
  return { element: field(label, chooser), chooser, update };
}
