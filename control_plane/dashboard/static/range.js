// The time range every database page shows: 1 h, 24 h, 7 d, 30 d or a custom span, shared by all
// pages (kept in sessionStorage, so it survives navigation and reloads of this tab).
//
// rangeQuery() -> "from=<iso>&to=<iso>" for the API; rangePicker(onChange) -> the control.

import { h } from "./dom.js";

const KEY = "optischema.range";
export const PRESETS = [
  ["1h", "1 h", 3600],
  ["24h", "24 h", 86400],
  ["7d", "7 d", 7 * 86400],
  ["30d", "30 d", 30 * 86400],
];
const DEFAULT = { preset: "24h" };

export function currentRange() {
  try {
    const value = JSON.parse(sessionStorage.getItem(KEY) || "null");
    if (value && (PRESETS.some(([key]) => key === value.preset) || (value.preset === "custom" && value.from && value.to))) return value;
  } catch {
    // a damaged value falls back to the default
  }
  return DEFAULT;
}

function setRange(range) {
  sessionStorage.setItem(KEY, JSON.stringify(range));
}

// [from, to] as Dates. A preset ends now: each call moves with the clock.
export function rangeBounds(range = currentRange()) {
  if (range.preset === "custom") return [new Date(range.from), new Date(range.to)];
  const seconds = PRESETS.find(([key]) => key === range.preset)[2];
  const to = new Date();
  return [new Date(to.getTime() - seconds * 1000), to];
}

export function rangeQuery(range = currentRange()) {
  const [from, to] = rangeBounds(range);
  return `from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`;
}

export function rangeLabel(range = currentRange()) {
  if (range.preset !== "custom") return `last ${PRESETS.find(([key]) => key === range.preset)[1]}`;
  const [from, to] = rangeBounds(range);
  return `${from.toLocaleString()} – ${to.toLocaleString()}`;
}

// <input type="datetime-local"> speaks the browser's local time without a zone.
function localInputValue(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

export function rangePicker(onChange) {
  const range = currentRange();
  const custom = h("form", { class: "range-picker", hidden: range.preset !== "custom" });
  const [from, to] = rangeBounds(range);
  const fromInput = h("input", { type: "datetime-local", name: "from", value: localInputValue(from), "aria-label": "from", required: true });
  const toInput = h("input", { type: "datetime-local", name: "to", value: localInputValue(to), "aria-label": "to", required: true });
  const problem = h("span", { class: "error", role: "alert" });
  custom.append(fromInput, toInput, h("button", { type: "submit" }, "Show"), problem);
  custom.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = { preset: "custom", from: new Date(fromInput.value).toISOString(), to: new Date(toInput.value).toISOString() };
    if (!(new Date(chosen.from) < new Date(chosen.to))) {
      problem.textContent = "The start must come before the end.";
      return;
    }
    problem.textContent = "";
    setRange(chosen);
    onChange();
  });
  const buttons = PRESETS.map(([key, label]) => {
    const button = h("button", { type: "button", "aria-pressed": String(range.preset === key), "data-range": key }, label);
    button.addEventListener("click", () => {
      setRange({ preset: key });
      onChange();
    });
    return button;
  });
  const customButton = h("button", { type: "button", "aria-pressed": String(range.preset === "custom"), "data-range": "custom" }, "Custom");
  customButton.addEventListener("click", () => {
    custom.hidden = !custom.hidden;
  });
  return h("div", { class: "range-picker", role: "group", "aria-label": "Time range" }, buttons, customButton, custom);
}
