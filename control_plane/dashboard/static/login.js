// The sign-in page: exchanges email and password for a token pair, then opens the dashboard.

import { errorMessage } from "./dom.js";
import { signIn } from "./api.js";

const form = document.getElementById("login-form");
const errorLine = document.getElementById("login-error");
const button = document.getElementById("sign-in");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorLine.hidden = true;
  button.disabled = true;
  try {
    await signIn(form.elements.email.value.trim(), form.elements.password.value);
    window.location.assign("/");
  } catch (error) {
    errorLine.textContent =
      error.status === 401 ? "Wrong email or password." : `Sign-in failed: ${errorMessage(error)}`;
    errorLine.hidden = false;
  } finally {
    button.disabled = false;
  }
});
