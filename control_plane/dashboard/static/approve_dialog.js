// The approval question, asked with what will run: the SQL, the evidence behind it (the estimate and,
// once timed on the sandbox, the real figures beside it), and an optional earliest time (the agent
// also waits for the database's maintenance window).

import { errorLine, h, replaceContent, sqlBlock } from "./dom.js";

// confirm(notBefore: ISO string | null) queues the approval; the dialog closes when it succeeds.
export function approveDialog(recommendation, evidence, confirm) {
  const notBefore = h("input", { type: "datetime-local", name: "not_before", id: "approve-not-before" });
  const problem = h("div", { role: "alert" });
  const approve = h("button", { type: "submit", class: "primary" }, "Confirm approve");
  const cancel = h("button", { type: "button" }, "Cancel");
  const form = h(
    "form",
    { method: "dialog" },
    h("h2", {}, "Approve this change?"),
    h("div", { class: "approve-evidence" }, evidence),
    h("p", { class: "muted small" }, "The agent runs this SQL on its next poll when it runs with apply enabled, inside the maintenance window, and measures the result."),
    sqlBlock(recommendation.sql),
    h("label", { class: "field", for: "approve-not-before" }, "Not before (optional, your local time)", notBefore),
    problem,
    h("div", { class: "toolbar" }, approve, cancel),
  );
  const dialog = h("dialog", { class: "approve-dialog", "aria-label": "approve" }, form);
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    approve.disabled = true;
    replaceContent(problem);
    try {
      await confirm(notBefore.value ? new Date(notBefore.value).toISOString() : null);
      dialog.close();
    } catch (error) {
      replaceContent(problem, errorLine(error));
    } finally {
      approve.disabled = false;
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  approve.focus();
  return dialog;
}
