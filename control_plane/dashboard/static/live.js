// Live updates: a server-sent event stream for the database on screen (control_plane/live).
//
// EventSource cannot send an Authorization header, and a long-lived token must never sit in a
// URL: so each connection first asks for a ticket (POST /live/ticket, with the bearer token as any
// call), which works once and expires within seconds, and opens
// /api/v1/live/events?ticket=…&database_id=…. Events carry ids and statuses only
// (`snapshot`, `job`, `recommendation`); the page on screen refetches through the API. The server
// ends a stream after a while (announced by a `reconnect` event) and a ticket cannot be reused, so
// every reconnect gets a new ticket, backing off from 1 s to 30 s while the server is away; changes
// between two streams are not replayed, so a reopened stream tells the page to refetch (`reopened`).

import { api } from "./api.js";

const EVENTS = ["snapshot", "job", "recommendation"];
const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 30_000;

const handlers = new Set();
let watched = null; // {databaseId, source, timer, retryMs}

function showState(text, on) {
  const state = document.getElementById("live-state");
  if (!state) return;
  state.querySelector(".live-text").textContent = text;
  state.querySelector(".live-dot").classList.toggle("on", on);
  state.dataset.state = on ? "live" : text;
}

// The page on screen: handler(kind, payload) for each event until the next navigation.
export function onLive(handler) {
  handlers.add(handler);
}

export function clearLiveHandlers() {
  handlers.clear();
}

function dispatch(kind, event) {
  let payload = {};
  try {
    payload = JSON.parse(event.data || "{}");
  } catch {
    return;
  }
  for (const handler of [...handlers]) {
    try {
      handler(kind, payload);
    } catch (error) {
      console.warn("live handler failed", error);
    }
  }
}

function close() {
  if (!watched) return;
  clearTimeout(watched.timer);
  if (watched.source) watched.source.close();
}

async function connect(current) {
  if (watched !== current) return;
  let ticket;
  try {
    ticket = await api("POST", "/live/ticket");
  } catch {
    return retry(current);
  }
  if (watched !== current) return;
  const query = `ticket=${encodeURIComponent(ticket.ticket)}&database_id=${encodeURIComponent(current.databaseId)}`;
  const source = new EventSource(`/api/v1/live/events?${query}`);
  current.source = source;
  source.addEventListener("open", () => {
    current.retryMs = FIRST_RETRY_MS;
    showState("live", true);
    if (current.opened) dispatch("reopened", { data: "{}" });
    current.opened = true;
  });
  for (const kind of EVENTS) source.addEventListener(kind, (event) => dispatch(kind, event));
  source.addEventListener("reconnect", () => {
    source.close();
    if (watched === current) retry(current);
  });
  // A closed stream (the server's time limit, a restart) or a refused ticket: reconnect with a new
  // ticket; EventSource's own retry would reuse the spent one.
  source.addEventListener("error", () => {
    source.close();
    if (watched === current) retry(current);
  });
}

function retry(current) {
  showState("reconnecting", false);
  current.timer = setTimeout(() => connect(current), current.retryMs);
  current.retryMs = Math.min(current.retryMs * 2, LAST_RETRY_MS);
}

// Follow one database's events (null: none). Called on every navigation; the same database keeps
// its stream.
export function watchDatabase(databaseId) {
  if (watched && watched.databaseId === databaseId) return;
  close();
  watched = null;
  if (!databaseId || typeof EventSource === "undefined") {
    showState("off", false);
    return;
  }
  watched = { databaseId, source: null, timer: null, retryMs: FIRST_RETRY_MS, opened: false };
  showState("connecting", false);
  connect(watched);
}
