// Settings · Webhooks (admins, `webhook.manage`): where recommendation events are posted, and each
// webhook's deliveries with their attempts, last status code and last error.

import { api } from "./api.js";
import { errorLine, formatNumber, h, replaceContent } from "./dom.js";
import { confirmStep, copyable, field, formatDate, scrollingTable, select } from "./settings_parts.js";

// control_plane/notifications/schemas.py EVENTS, with what each means to a reader.
const EVENTS = [
  ["recommendation.ready", "a new recommendation"],
  ["recommendation.applied", "a change applied"],
  ["recommendation.apply_failed", "an apply failed"],
  ["recommendation.regressed", "an applied change made statements slower"],
  ["recommendation.rolled_back", "a change rolled back"],
  ["recommendation.rollback_failed", "a rollback failed"],
];
const KINDS = [
  ["generic", "Generic JSON (signed)"],
  ["slack", "Slack incoming webhook"],
];

async function deliveriesTable(webhook) {
  const deliveries = await api("GET", `/webhooks/${encodeURIComponent(webhook.id)}/deliveries?limit=50`); // the API's default page
  if (deliveries.length === 0) return h("p", { class: "muted" }, "No deliveries yet: one is made when a chosen event happens.");
  return scrollingTable(
    { class: "deliveries" },
    ["Event", "Status", "Attempts", "Last answer", "Created", "Next attempt / delivered"],
    deliveries.map((delivery) =>
      h(
        "tr",
        { "data-delivery-status": delivery.status },
        h("td", {}, h("code", {}, delivery.event)),
        h("td", {}, h("span", { class: `badge delivery-${delivery.status}` }, delivery.status)),
        h("td", { class: "num" }, formatNumber(delivery.attempts)),
        h("td", {}, delivery.last_status_code ? `HTTP ${delivery.last_status_code}` : "", delivery.last_error ? h("div", { class: "error" }, delivery.last_error) : null),
        h("td", {}, formatDate(delivery.created_at)),
        h("td", {}, delivery.delivered_at ? formatDate(delivery.delivered_at) : formatDate(delivery.next_attempt_at)),
      ),
    ),
  );
}

function webhookItem(webhook, reload) {
  const deliveries = h("div", { class: "deliveries-area" });
  const details = h("details", { class: "webhook-deliveries" }, h("summary", {}, "Deliveries"), deliveries);
  details.addEventListener("toggle", async () => {
    if (!details.open) return;
    replaceContent(deliveries, h("p", { class: "muted" }, "Loading…"));
    try {
      replaceContent(deliveries, await deliveriesTable(webhook));
    } catch (error) {
      replaceContent(deliveries, errorLine(error));
    }
  });
  return h(
    "li",
    { class: "webhook", "data-webhook-id": webhook.id },
    h("p", { class: "webhook-url" }, h("code", {}, webhook.url), " ", h("span", { class: "badge" }, webhook.kind)),
    h("p", { class: "muted" }, `Events: ${webhook.events.join(", ")} · new recommendations from ${formatNumber(webhook.min_improvement_pct, 1)} % · added ${formatDate(webhook.created_at)}`),
    details,
    confirmStep("Delete", `Delete the webhook to ${webhook.url}? Its pending deliveries are dropped.`, async () => {
      await api("DELETE", `/webhooks/${encodeURIComponent(webhook.id)}`);
      await reload();
    }),
  );
}

function createWebhookForm(secretArea, reload) {
  const url = h("input", { type: "url", name: "url", required: true, maxlength: 2000, autocomplete: "off", placeholder: "the receiver's https address" });
  const kind = select("kind", KINDS, "generic");
  const events = EVENTS.map(([name, meaning]) => [h("input", { type: "checkbox", name: "event", value: name, checked: true }), name, meaning]);
  const minimum = h("input", { type: "number", name: "min_improvement_pct", min: 0, step: "any", inputmode: "decimal", placeholder: "server default" });
  const problem = h("div");
  const form = h(
    "form",
    { id: "create-webhook", class: "settings-form" },
    h("h3", {}, "Add a webhook"),
    field("URL", url, "Public https unless the operator allows private targets."),
    field("Kind", kind),
    h("fieldset", { class: "events" }, h("legend", {}, "Events"), events.map(([box, name, meaning]) => h("label", { class: "event" }, box, " ", h("code", {}, name), h("span", { class: "muted" }, ` ${meaning}`)))),
    field("Smallest improvement for a new recommendation (%)", minimum),
    h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary" }, "Add webhook")),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceContent(problem);
    const chosen = events.filter(([box]) => box.checked).map(([box]) => box.value);
    if (chosen.length === 0) {
      replaceContent(problem, h("p", { class: "error", role: "alert" }, "Choose at least one event."));
      return;
    }
    const body = { url: url.value.trim(), kind: kind.value, events: chosen };
    if (minimum.value !== "") body.min_improvement_pct = Number(minimum.value);
    try {
      const created = await api("POST", "/webhooks", body);
      form.reset();
      replaceContent(
        secretArea,
        created.secret
          ? h(
              "div",
              { class: "secret", role: "status" },
              h("h3", {}, "Signing secret, shown only now"),
              h("p", {}, "Requests carry X-OptiSchema-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'> made with it."),
              copyable("secret", created.secret, { id: "webhook-secret" }),
            )
          : h("p", { class: "muted", role: "status" }, `Added ${created.url}.`),
      );
      await reload();
    } catch (error) {
      replaceContent(problem, errorLine(error));
    }
  });
  return form;
}

export async function webhooksSection() {
  const listArea = h("div");
  const secretArea = h("div", { "aria-live": "polite" });
  async function reload() {
    const webhooks = await api("GET", "/webhooks");
    replaceContent(
      listArea,
      webhooks.length === 0
        ? h("p", { class: "muted" }, "No webhooks: add one to hear about new recommendations and applied changes.")
        : h("ul", { class: "webhooks", id: "webhooks" }, webhooks.map((webhook) => webhookItem(webhook, reload))),
    );
  }
  await reload();
  return h("div", {}, listArea, secretArea, createWebhookForm(secretArea, reload));
}
