// Settings · LLM (admins, `llm_settings.manage`): which provider and model analyses consult, the
// monthly token budget, and what this month has used. The API key is write-only: the server says
// whether one is stored, never what it is.

import { api } from "./api.js";
import { errorLine, formatNumber, h, replaceContent } from "./dom.js";
import { field, select } from "./settings_parts.js";

// LLMSettingsIn.provider: "default" hands the choice back to the operator's OPTISCHEMA_LLM_*.
const PROVIDERS = [
  ["default", "The operator's default"],
  ["none", "None: rules only"],
  ["openai", "OpenAI (or an OpenAI-compatible server)"],
  ["anthropic", "Anthropic"],
  ["gemini", "Google Gemini"],
];

function usage(settings) {
  const budget = settings.effective_monthly_token_budget;
  const used = settings.tokens_used_this_month;
  const share = budget > 0 ? Math.min(used / budget, 1) : 1;
  return h(
    "div",
    { class: "llm-usage", id: "llm-usage" },
    h("p", {}, `This month: ${formatNumber(used)} of ${formatNumber(budget)} tokens used`, settings.monthly_token_budget === null ? " (the operator's budget)." : "."),
    h("progress", { max: 1, value: share, "aria-label": "Share of this month's token budget used" }),
  );
}

function sourceLine(settings) {
  if (settings.provider === "none") {
    return settings.source === "tenant" ? "Analyses use rules only: you chose no LLM." : "Analyses use rules only: the operator configured no LLM.";
  }
  const model = settings.model ? ` (${settings.model})` : "";
  return settings.source === "tenant" ? `Analyses use your provider: ${settings.provider}${model}.` : `Analyses use the operator's provider: ${settings.provider}${model}.`;
}

function settingsForm(settings, rerender, said) {
  const provider = select("provider", PROVIDERS, settings.source === "operator" ? "default" : settings.provider);
  const model = h("input", { name: "model", maxlength: 200, autocomplete: "off", value: settings.model || "", placeholder: "the provider's default" });
  const baseUrl = h("input", { type: "url", name: "base_url", maxlength: 2000, autocomplete: "off", value: settings.base_url || "", placeholder: "optional" });
  const apiKey = h("input", { type: "password", name: "api_key", autocomplete: "new-password", placeholder: settings.api_key_set ? "stored: leave empty to keep it" : "" });
  const forgetKey = h("input", { type: "checkbox", name: "forget_key" });
  const budget = h("input", { type: "number", name: "monthly_token_budget", min: 0, step: 1, inputmode: "numeric", value: settings.monthly_token_budget ?? "", placeholder: formatNumber(settings.effective_monthly_token_budget) });
  const problem = h("div");
  const form = h(
    "form",
    { id: "llm-settings", class: "settings-form" },
    h("p", { id: "llm-source" }, sourceLine(settings)),
    usage(settings),
    field("Provider", provider),
    field("Model", model),
    field("Base URL", baseUrl, "Only for a self-hosted or compatible server; it must be reachable from the control plane."),
    field("API key", apiKey, settings.api_key_set ? "A key is stored." : "No key stored."),
    settings.api_key_set ? h("label", { class: "inline" }, forgetKey, " Remove the stored key") : null,
    field("Monthly token budget", budget, "Empty: the operator's budget."),
    h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary" }, "Save LLM settings"), said ? h("span", { class: "ok", role: "status" }, said) : null),
    problem,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceContent(problem);
    const body = {
      provider: provider.value,
      model: model.value.trim() || null,
      base_url: baseUrl.value.trim() || null,
      monthly_token_budget: budget.value === "" ? null : Number(budget.value),
    };
    // Left out, the stored key is kept; an empty string removes it (LLMSettingsIn.api_key).
    if (apiKey.value !== "") body.api_key = apiKey.value;
    else if (forgetKey.checked) body.api_key = "";
    try {
      const saved = await api("PUT", "/settings/llm", body);
      rerender(saved, "Saved.");
    } catch (error) {
      replaceContent(problem, errorLine(error));
    }
  });
  return form;
}

export async function llmSection() {
  const holder = h("div");
  function rerender(settings, said = null) {
    replaceContent(holder, settingsForm(settings, rerender, said));
  }
  rerender(await api("GET", "/settings/llm"));
  return holder;
}
