// Relais board: what HTML alone cannot do. htmx and its WebSocket extension do the swapping;
// this file keeps the sequence (asks for a snapshot on a gap), keeps rows in order, shows the
// connection state, plays the chime, keeps the screen awake and ticks the "waiting" minutes.
(() => {
  "use strict";

  const SOUND_KEY = "relais.sound";
  const board = document.getElementById("board");
  const conn = document.getElementById("conn");
  const soundButton = document.getElementById("sound-toggle");
  const chime = new Audio("/static/sounds/chime.wav");
  chime.preload = "auto";

  let lastSeq = Number(board?.dataset.seq || 0);
  let awaitingSnapshot = false;
  // The sequence number of the last change shown, also on the page for people and tests.
  function setSeq(seq) {
    lastSeq = seq;
    if (board) board.dataset.seq = String(seq);
  }

  // -- connection state -------------------------------------------------------------------
  function setConn(state) {
    if (!conn) return;
    conn.className = "conn conn--" + state;
    const labels = { live: conn.dataset.live, reconnecting: conn.dataset.reconnecting, ended: conn.dataset.ended };
    if (labels[state]) conn.textContent = labels[state];
    board?.setAttribute("data-conn", state);
  }

  // -- sound ------------------------------------------------------------------------------
  function soundOn() { return localStorage.getItem(SOUND_KEY) === "on"; }
  function renderSound() {
    if (!soundButton) return;
    const on = soundOn();
    soundButton.setAttribute("aria-pressed", on ? "true" : "false");
    soundButton.textContent = on ? soundButton.dataset.on : soundButton.dataset.off;
    soundButton.classList.toggle("sound--on", on);
  }
  function playChime() {
    chime.currentTime = 0;
    const played = chime.play();
    if (played && played.catch) played.catch(() => {});
  }
  soundButton?.addEventListener("click", () => {
    // Browsers allow audio after a tap: this tap both unlocks and tests the sound.
    localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
    renderSound();
    if (soundOn()) playChime();
  });
  renderSound();

  // -- messages ---------------------------------------------------------------------------
  let connection = null;
  function requestSnapshot() {
    if (awaitingSnapshot || !connection || !connection.socket) return;
    awaitingSnapshot = true;
    connection.socket.send(JSON.stringify({ type: "snapshot" }));
  }
  document.addEventListener("htmx:ws:after:connection", (event) => { connection = event.detail.connection; });

  document.addEventListener("htmx:ws:before:message:incoming", (event) => {
    const detail = event.detail;
    let data;
    try { data = JSON.parse(detail.message.data); } catch (e) { return; }
    if (data.status === "degraded") { setConn("reconnecting"); detail.cancelled = true; return; }
    if (data.snapshot) {
      awaitingSnapshot = false;
      setSeq(data.seq);
      setConn("live");
      return;
    }
    if (awaitingSnapshot || data.seq <= lastSeq) { detail.cancelled = true; return; }
    // Under load one message may cover several changes: seq "from" to "seq".
    const first = data.from === undefined ? data.seq : data.from;
    if (first > lastSeq + 1) {
      // A gap: something was missed. Ask for the whole board rather than guess.
      detail.cancelled = true;
      connection = detail.connection;
      requestSnapshot();
      return;
    }
    setSeq(data.seq);
    // A change carries the server's clock; the waiting minutes count on it.
    const alerts = document.getElementById("alerts");
    if (data.now && alerts) alerts.dataset.now = data.now;
    if (data.chime) {
      board.dataset.chimes = String(Number(board.dataset.chimes || 0) + 1);
      if (soundOn()) playChime();
    }
  });

  document.addEventListener("htmx:ws:after:message:incoming", () => { syncClock(); tickWaiting(); });

  // -- order of rows ----------------------------------------------------------------------
  // A change appends each new or changed row to the end of its list (data-keyed); put the
  // list back in the order of its rows' data-key (the server's: by arrival, by name) as soon
  // as the row is in, before the browser paints it at the bottom.
  function byKey(a, b) {
    const [x, y] = [a.dataset.key || "", b.dataset.key || ""];
    return x < y ? -1 : x > y ? 1 : 0;
  }
  document.addEventListener("htmx:before:settle", (event) => {
    const list = event.target;
    if (!(list instanceof Element) || !list.matches("[data-keyed]")) return;
    const rows = Array.from(list.children);
    const sorted = rows.slice().sort(byKey);
    if (sorted.some((row, i) => row !== rows[i])) list.append(...sorted);
  });

  // A button's answer replaces the live region with the board as it was when the server
  // answered. If the socket has already shown something newer, that answer is stale: resync.
  function checkAnswerSeq() {
    const live = document.getElementById("live");
    if (!live || live.dataset.seq === undefined) return;
    const answered = Number(live.dataset.seq);
    delete live.dataset.seq;
    if (answered < lastSeq) requestSnapshot();
  }
  document.addEventListener("htmx:after:swap", () => { syncClock(); tickWaiting(); checkAnswerSeq(); });
  delete document.getElementById("live")?.dataset.seq;

  document.addEventListener("htmx:ws:close", (event) => {
    const code = event.detail && event.detail.code;
    if (code === 4001 || code === 4003 || code === 1008) {
      // Signed out, account disabled, or display revoked: no point reconnecting.
      setConn("ended");
      window.setTimeout(() => { window.location.reload(); }, 1500);
      return;
    }
    awaitingSnapshot = false;
    setConn("reconnecting");
  });

  // -- waiting time -----------------------------------------------------------------------
  // Minutes are counted on the server's clock: each render carries its "now" (data-now).
  let clockOffset = 0;
  function syncClock() {
    const stamp = document.querySelector("#alerts[data-now]");
    const serverNow = stamp ? Date.parse(stamp.dataset.now) : NaN;
    if (!Number.isNaN(serverNow)) clockOffset = serverNow - Date.now();
  }
  function tickWaiting() {
    const now = Date.now() + clockOffset;
    document.querySelectorAll("time[data-since]").forEach((el) => {
      const since = Date.parse(el.dataset.since);
      if (!Number.isNaN(since)) el.textContent = Math.max(0, Math.floor((now - since) / 60000)) + " min";
    });
  }
  syncClock();
  window.setInterval(tickWaiting, 15000);

  // -- keep the screen awake on a wall or a tablet ----------------------------------------
  async function keepAwake() {
    try { if (navigator.wakeLock && document.visibilityState === "visible") await navigator.wakeLock.request("screen"); }
    catch (e) { /* not allowed here: the screen may sleep */ }
  }
  document.addEventListener("visibilitychange", keepAwake);
  keepAwake();

  // Reconnect with backoff (the extension's own), starting fast, capped at 10 s.
  if (window.htmx) htmx.config.ws = { reconnectDelay: 300, reconnectMaxDelay: 10000, reconnectCodes: [1001, 1005, 1006, 1011, 1012, 1013, 1014] };
})();
