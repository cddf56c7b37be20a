// Building DOM without HTML strings: every piece of data goes in through textContent, so nothing
// the API returns (query text, names, error messages) is ever parsed as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

// h("a", {href: "#/x", class: "y"}, "text", child, [more children]) -> HTMLElement.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setAttributes(element, attributes);
  append(element, children);
  return element;
}

function setAttributes(element, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replaceContent(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

export function errorMessage(error) {
  if (error && error.status === 403) return `Not allowed for your role: ${error.detail}`;
  if (error && error.status === 404) return `Not found: ${error.detail}`;
  if (error && error.status === 429) return `Too many requests, try again in a minute: ${error.detail}`;
  if (error && error.detail) return `${error.status}: ${error.detail}`;
  return String(error && error.message ? error.message : error);
}

export function errorLine(error) {
  return h("p", { class: "error", role: "alert" }, errorMessage(error));
}

export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatMs(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 1000) return `${formatNumber(value / 1000, 2)} s`;
  return `${formatNumber(value, value < 10 ? 2 : 1)} ms`;
}

export function formatPct(value) {
  return value === null || value === undefined ? "–" : `${formatNumber(value, 1)} %`;
}

// "5 s ago", "3 min ago", "2 h ago", "4 days ago".
export function formatAgo(iso) {
  if (!iso) return "never";
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 90) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

export function formatWhen(iso) {
  if (!iso) return "never";
  const at = new Date(iso);
  return `${formatAgo(iso)} (${at.toLocaleString()})`;
}

// A button that runs `action`, disabled while it runs, reporting a failure into `errorTarget`.
export function actionButton(label, action, { cls = "", errorTarget = null, title = null } = {}) {
  const button = h("button", { type: "button", class: cls, title }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    if (errorTarget) replaceContent(errorTarget);
    try {
      await action();
    } catch (error) {
      if (errorTarget) replaceContent(errorTarget, errorLine(error));
      else window.alert(errorMessage(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

// A table that scrolls inside its own box on a narrow screen instead of widening the page.
export function scrollBox(table) {
  return h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": table.getAttribute("aria-label") || "table" }, table);
}

export function copyButton(text, label = "Copy") {
  const button = h("button", { type: "button", class: "copy", "aria-label": `${label} to the clipboard` }, label);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Select and copy";
    }
    setTimeout(() => {
      button.textContent = label;
    }, 2000);
  });
  return button;
}

// SQL to read and copy (an index's DDL, its rollback).
export function sqlBlock(sql, cls = "sql") {
  return h("div", { class: "sql-block" }, h("pre", { class: cls }, sql), copyButton(sql));
}

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${formatNumber(value, unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return "under 1 s";
  if (seconds < 90) return `${formatNumber(seconds)} s`;
  if (seconds < 5400) return `${formatNumber(seconds / 60)} min`;
  if (seconds < 172800) return `${formatNumber(seconds / 3600, 1)} h`;
  return `${formatNumber(seconds / 86400)} days`;
}

// An empty state that says what to do next.
export function emptyState(title, ...next) {
  return h("div", { class: "empty" }, h("p", {}, h("strong", {}, title)), next);
}
