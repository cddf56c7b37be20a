// The JSON API under /api/v1, with the signed-in user's tokens.
//
// Tokens live in sessionStorage (this tab only, gone when it closes) and never in a URL. An access
// token that the API refuses is renewed once with the refresh token; when that fails too the user
// is sent back to /login.

const API = "/api/v1";
const KEYS = { access: "optischema.access", refresh: "optischema.refresh", expiresAt: "optischema.expires_at" };
const EXPIRY_MARGIN_MS = 30_000;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

function storeTokens(pair) {
  sessionStorage.setItem(KEYS.access, pair.access_token);
  sessionStorage.setItem(KEYS.refresh, pair.refresh_token);
  sessionStorage.setItem(KEYS.expiresAt, String(Date.now() + pair.expires_in * 1000));
}

export function clearTokens() {
  for (const key of Object.values(KEYS)) sessionStorage.removeItem(key);
}

export function hasSession() {
  return sessionStorage.getItem(KEYS.refresh) !== null;
}

export function goToLogin() {
  clearTokens();
  window.location.assign("/login");
}

async function detailOf(response) {
  try {
    const body = await response.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((problem) => problem.msg).join("; ");
    return JSON.stringify(body);
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

export async function signIn(email, password) {
  const response = await fetch(`${API}/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email, password }),
    credentials: "omit",
  });
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  storeTokens(await response.json());
}

// One refresh at a time: a refresh token works once, so parallel 401s must share the new pair.
let refreshing = null;

function refreshTokens() {
  if (refreshing === null) {
    refreshing = (async () => {
      const refreshToken = sessionStorage.getItem(KEYS.refresh);
      if (refreshToken === null) return false;
      const response = await fetch(`${API}/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refreshToken }),
        credentials: "omit",
      });
      if (!response.ok) return false;
      storeTokens(await response.json());
      return true;
    })().finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

function accessTokenFresh() {
  const expiresAt = Number(sessionStorage.getItem(KEYS.expiresAt) || 0);
  return sessionStorage.getItem(KEYS.access) !== null && Date.now() < expiresAt - EXPIRY_MARGIN_MS;
}

async function send(method, path, body) {
  const headers = { Authorization: `Bearer ${sessionStorage.getItem(KEYS.access)}` };
  const init = { method, headers, credentials: "omit" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return fetch(`${API}${path}`, init);
}

// The response to an authenticated call: the access token renewed once when refused.
async function authorized(method, path, body) {
  if (!accessTokenFresh() && !(await refreshTokens())) {
    goToLogin();
    throw new ApiError(401, "signed out");
  }
  let response = await send(method, path, body);
  if (response.status === 401) {
    if (!(await refreshTokens())) {
      goToLogin();
      throw new ApiError(401, "signed out");
    }
    response = await send(method, path, body);
  }
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  return response;
}

async function parsed(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  return text === "" ? null : JSON.parse(text);
}

// The parsed JSON answer (null for 204), or an ApiError carrying the API's `detail`.
export async function api(method, path, body) {
  return parsed(await authorized(method, path, body));
}

// A GET whose answer is paged: {items, total} with the X-Total-Count header (null without one).
export async function apiPage(path) {
  const response = await authorized("GET", path);
  const total = response.headers.get("X-Total-Count");
  return { items: await parsed(response), total: total === null ? null : Number(total) };
}

// Saves an export (CSV, JSON) the API serves to a signed-in user as a file: the token goes in the
// header as for every call, never in a link.
export async function download(path, filename) {
  const response = await authorized("GET", path);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export async function signOut() {
  try {
    if (hasSession()) await api("POST", "/auth/logout");
  } catch {
    // Signing out locally is what matters; the server-side session expires on its own.
  }
  goToLogin();
}
