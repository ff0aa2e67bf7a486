/* Live bet tickets: log in, keep a /ws/bets/ connection open, show what arrives.
 *
 * Plain JavaScript, no build. The page talks only to the public API:
 *   POST /api/auth/token (JWT), POST /api/realtime/ticket (single-use WebSocket ticket),
 *   GET /api/wallets, and /ws/bets/?ticket=...
 * Every pushed event is {type, id, seq, ts, data}. The page remembers the last seq it saw
 * (sessionStorage, per user) and on every reconnect asks {"type": "resume", "after": seq};
 * events are applied once by id, so a repeat after a reconnect changes nothing.
 *
 * Extending: `Tote.on(type, fn)` registers a handler for an event type, or for a direct answer
 * of the server (a frame without id: cashout.error of a refusal, cashout.auto) and the page's
 * own session.started / session.ended / state.stale; `Tote.send(frame)` sends a client message
 * such as {"type": "cashout.request", "slip": 12}; `Tote.api(path, options)` calls the REST API
 * with the session's token. slips.js builds the slip list and the cashout controls on these.
 */
(function () {
  "use strict";

  const MAX_ROWS = 200;
  const MAX_SEEN = 2000;
  const PING_EVERY_MS = 25000;

  const state = {
    access: null,
    refresh: null,
    username: null,
    lastSeq: 0,
    socket: null,
    attempt: 0,
    connectedOnce: false,
    wanted: false, // the user is logged in: keep a connection open
    reconnectTimer: null,
    pingTimer: null,
  };
  const seen = new Set();
  const seenOrder = [];
  const handlers = {}; // event type -> [fn(event)]

  const $ = (id) => document.getElementById(id);

  // --- events --------------------------------------------------------------------------------

  function on(type, fn) {
    (handlers[type] = handlers[type] || []).push(fn);
  }

  function remember(id) {
    if (seen.has(id)) return false;
    seen.add(id);
    seenOrder.push(id);
    if (seenOrder.length > MAX_SEEN) seen.delete(seenOrder.shift());
    return true;
  }

  function seqKey() {
    return "tote.lastSeq." + state.username;
  }

  function applyEvent(event) {
    if (!remember(event.id)) return; // already applied (replay after a reconnect)
    if (event.seq > state.lastSeq) {
      state.lastSeq = event.seq;
      sessionStorage.setItem(seqKey(), String(event.seq));
      $("last-seq").textContent = "· last seq " + event.seq;
    }
    addRow(event);
    dispatch(event);
  }

  function addRow(event) {
    const li = document.createElement("li");
    li.dataset.type = event.type;
    li.dataset.seq = String(event.seq);
    li.dataset.id = event.id;
    const type = document.createElement("strong");
    type.textContent = event.type;
    const seq = document.createElement("span");
    seq.className = "muted";
    seq.textContent = "#" + event.seq;
    const data = document.createElement("span");
    data.className = "data";
    data.textContent = event.ts + " " + JSON.stringify(event.data);
    li.append(type, seq, data);
    const list = $("events");
    list.prepend(li);
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "pong":
      case "subscribed":
      case "unsubscribed":
        return;
      case "resumed":
        if (!frame.complete) {
          // Cut at the server's bound or older than its window: reload state, page forward.
          loadWallets();
          dispatch({ type: "state.stale" });
          if (frame.count > 0) send({ type: "resume", after: state.lastSeq });
        }
        return;
      case "error":
        console.warn("server error frame", frame);
        return;
      default:
        if (frame.id && typeof frame.seq === "number") applyEvent(frame);
        else dispatch(frame); // a direct answer (a refusal that changed nothing, cashout.auto)
    }
  }

  function dispatch(frame) {
    for (const fn of handlers[frame.type] || []) {
      try {
        fn(frame);
      } catch (err) {
        console.error("handler for", frame.type, "failed", err);
      }
    }
  }

  // --- HTTP ----------------------------------------------------------------------------------

  async function api(path, options) {
    const opts = options || {};
    const headers = { Accept: "application/json" };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    if (opts.auth !== false && state.access) headers.Authorization = "Bearer " + state.access;
    const response = await fetch(path, {
      method: opts.method || "GET",
      headers: headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      credentials: "omit",
    });
    if (response.status === 401 && opts.auth !== false && !opts.retried && (await refreshAccess())) {
      return api(path, Object.assign({}, opts, { retried: true }));
    }
    const body = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((body && body.error && body.error.message) || response.statusText);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  }

  async function refreshAccess() {
    if (!state.refresh) return false;
    try {
      const body = await api("/api/auth/token/refresh", { method: "POST", body: { refresh: state.refresh }, auth: false });
      state.access = body.access;
      if (body.refresh) state.refresh = body.refresh;
      return true;
    } catch (err) {
      logout("Your session ended: log in again.");
      return false;
    }
  }

  async function loadWallets() {
    if (!state.access) return;
    try {
      const body = await api("/api/wallets");
      const rows = (body.results || []).map((w) => {
        const tr = document.createElement("tr");
        tr.dataset.currency = w.currency;
        for (const text of [w.currency, w.available.display, w.receivable.display]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.append(td);
        }
        return tr;
      });
      $("wallets").querySelector("tbody").replaceChildren(...rows);
    } catch (err) {
      console.warn("wallets", err);
    }
  }

  // --- WebSocket -----------------------------------------------------------------------------

  function setStatus(name, text) {
    const el = $("status");
    el.dataset.state = name;
    el.textContent = text || name;
  }

  function send(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  async function connect() {
    state.reconnectTimer = null;
    if (!state.wanted) return;
    setStatus("connecting", "connecting…");
    let ticket;
    try {
      ticket = await api("/api/realtime/ticket", { method: "POST" });
    } catch (err) {
      if (state.wanted) scheduleReconnect();
      return;
    }
    if (!state.wanted) return;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + ticket.url, ["tote.v1"]);
    state.socket = socket;
    socket.onopen = () => {
      state.attempt = 0;
      setStatus("connected");
      // The first connection of a fresh page has nothing to catch up on (balances were just
      // loaded); a ping lets live events through at once. Any later one resumes, from the
      // start of the server's window if no event has arrived yet.
      const catchUp = state.lastSeq > 0 || state.connectedOnce;
      state.connectedOnce = true;
      send(catchUp ? { type: "resume", after: state.lastSeq } : { type: "ping" });
      clearInterval(state.pingTimer);
      state.pingTimer = setInterval(() => send({ type: "ping" }), PING_EVERY_MS);
    };
    socket.onmessage = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch (err) {
        return;
      }
      handleFrame(frame);
    };
    socket.onclose = (event) => {
      clearInterval(state.pingTimer);
      if (state.socket === socket) state.socket = null;
      if (!state.wanted) return setStatus("offline");
      if (event.code === 4403) return setStatus("refused", "refused: " + (event.reason || "forbidden"));
      scheduleReconnect(); // 4401 too: a fresh ticket is fetched on the next attempt
    };
  }

  function scheduleReconnect() {
    if (state.reconnectTimer || !state.wanted) return;
    const base = Math.min(10000, 500 * Math.pow(2, state.attempt));
    const delay = Math.round(base * (0.5 + Math.random() / 2)); // jitter: no thundering herd
    state.attempt += 1;
    setStatus("reconnecting", "reconnecting in " + Math.ceil(delay / 1000) + " s");
    state.reconnectTimer = setTimeout(connect, delay);
  }

  // --- session -------------------------------------------------------------------------------

  async function login(username, password) {
    const body = await api("/api/auth/token", { method: "POST", body: { username, password }, auth: false });
    state.access = body.access;
    state.refresh = body.refresh;
    state.username = username;
    state.lastSeq = Number(sessionStorage.getItem(seqKey()) || 0);
    state.wanted = true;
    $("username").textContent = username;
    $("login-section").hidden = true;
    $("session").hidden = false;
    $("events-section").hidden = false;
    await loadWallets();
    dispatch({ type: "session.started" });
    connect();
  }

  function logout(message) {
    state.wanted = false;
    state.connectedOnce = false;
    state.access = state.refresh = null;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = null;
    if (state.socket) state.socket.close(1000, "logout");
    $("login-section").hidden = false;
    $("session").hidden = true;
    $("events-section").hidden = true;
    $("events").replaceChildren();
    $("login-error").textContent = message || "";
    setStatus("offline");
    dispatch({ type: "session.ended" });
  }

  on("balance.updated", () => loadWallets());
  // A settlement says it moved money with bet.settled (bet.updated when resettled), not with
  // balance.updated: the balances are read again then too.
  on("bet.settled", () => loadWallets());
  on("bet.updated", (event) => {
    if (event.data && event.data.reason === "resettled") loadWallets();
  });

  document.addEventListener("DOMContentLoaded", () => {
    $("login").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      $("login-error").textContent = "";
      try {
        await login(form.username.value, form.password.value);
        form.reset();
      } catch (err) {
        $("login-error").textContent = err.status === 401 ? "Wrong username or password." : String(err.message);
      }
    });
    $("logout").addEventListener("click", () => logout());
  });

  window.Tote = { on: on, send: send, api: api, state: state };
})();
