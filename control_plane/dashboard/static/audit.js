// The audit log, newest first (admins only; the API refuses everyone else).

import { api } from "./api.js";
import { h } from "./dom.js";

function detailText(detail) {
  const entries = Object.entries(detail || {});
  return entries.map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`).join("  ");
}

export async function auditView() {
  const entries = await api("GET", "/audit?limit=200");
  return h(
    "section",
    {},
    h("h1", {}, "Audit log"),
    entries.length === 0
      ? h("p", { class: "muted" }, "Nothing recorded yet.")
      : h(
          "table",
          { id: "audit" },
          h("thead", {}, h("tr", {}, ["When", "Who", "Action", "Object", "Detail"].map((title) => h("th", {}, title)))),
          h(
            "tbody",
            {},
            entries.map((entry) =>
              h(
                "tr",
                {},
                h("td", {}, new Date(entry.at).toLocaleString()),
                h("td", {}, entry.actor),
                h("td", {}, h("code", {}, entry.action)),
                h("td", {}, entry.object),
                h("td", {}, h("code", {}, detailText(entry.detail))),
              ),
            ),
          ),
        ),
  );
}
