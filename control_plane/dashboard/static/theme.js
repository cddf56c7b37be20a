// The colour theme: the system's (prefers-color-scheme) unless the user picked light or dark with
// the toggle. A classic script in <head>, so the choice is on <html> before the first paint and a
// dark-theme user never sees a white flash. The choice is kept in localStorage (not a secret).
(function () {
  "use strict";
  var KEY = "optischema.theme";
  var CHOICES = ["system", "light", "dark"];

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return CHOICES.indexOf(value) >= 0 ? value : "system";
    } catch (error) {
      return "system";
    }
  }

  function apply(choice) {
    if (choice === "system") document.documentElement.removeAttribute("data-theme");
    else document.documentElement.setAttribute("data-theme", choice);
    var toggle = document.getElementById("theme-toggle");
    if (toggle) toggle.textContent = "Theme: " + choice;
    document.dispatchEvent(new CustomEvent("optischema:theme", { detail: choice }));
  }

  apply(stored());
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.getElementById("theme-toggle");
    if (!toggle) return;
    apply(stored());
    toggle.addEventListener("click", function () {
      var next = CHOICES[(CHOICES.indexOf(stored()) + 1) % CHOICES.length];
      try {
        window.localStorage.setItem(KEY, next);
      } catch (error) {
        // Private windows may refuse storage: the choice then lasts for this page only.
      }
      apply(next);
    });
  });
})();
