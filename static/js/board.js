// Relais board: what HTML alone cannot do. htmx and its WebSocket extension do the swapping;
// this file keeps the sequence (asks for a snapshot on a gap), keeps rows in order, shows the
// connection state, plays the chime (new alert in this view, overdue alert), keeps the screen
// awake, ticks the "waiting" minutes and the age of GPS fixes, points to alerts out of view
// (« N arrivées »), removes expired undo offers, opens the confirmation dialogs, says when a
// press failed (with a retry), and pages the wall display.
(() => {
  "use strict";

  const SOUND_KEY = "relais.sound";
  const board = document.getElementById("board");
  const conn = document.getElementById("conn");
  const connBanner = document.getElementById("conn-banner");
  const soundButton = document.getElementById("sound-toggle");
  const isWall = document.body.classList.contains("display-page");
  const chime = new Audio("/static/sounds/chime.wav");
  chime.preload = "auto";

  let lastSeq = Number(board?.dataset.seq || 0);
  let awaitingSnapshot = false;
  // The sequence number of the last change shown, also on the page for people and tests.
  function setSeq(seq) {
    lastSeq = seq;
    if (board) board.dataset.seq = String(seq);
  }

  // -- connection state: a pill, and from across the room a banner and a dimmed board ------
  function setConn(state) {
    if (!conn) return;
    conn.className = "conn conn--" + state;
    const labels = { live: conn.dataset.live, reconnecting: conn.dataset.reconnecting, ended: conn.dataset.ended };
    if (labels[state]) conn.textContent = labels[state];
    board?.setAttribute("data-conn", state);
    document.body.dataset.conn = state;
    if (connBanner) {
      const text = connBanner.dataset[state];
      connBanner.hidden = !text;
      if (text) connBanner.textContent = text;
    }
  }

  // -- sound ------------------------------------------------------------------------------
  // The choice survives a reload (localStorage); a browser that blocks audio until a tap
  // (after a reload) is detected, and the button says so: one tap turns it back on.
  let soundBlocked = false;
  function soundOn() { return localStorage.getItem(SOUND_KEY) === "on"; }
  function renderSound() {
    if (!soundButton) return;
    const on = soundOn();
    const blocked = on && soundBlocked;
    soundButton.setAttribute("aria-pressed", on && !blocked ? "true" : "false");
    soundButton.textContent = blocked ? soundButton.dataset.blocked : on ? soundButton.dataset.on : soundButton.dataset.off;
    soundButton.classList.toggle("sound--on", on && !blocked);
    soundButton.classList.toggle("sound--blocked", blocked);
    document.body.dataset.sound = blocked ? "blocked" : on ? "on" : "off";
  }
  function setBlocked(blocked) {
    if (soundBlocked === blocked) return;
    soundBlocked = blocked;
    renderSound();
  }
  function playChime() {
    chime.currentTime = 0;
    const played = chime.play();
    if (played && played.then) {
      played.then(() => setBlocked(false), (error) => { if (error && error.name === "NotAllowedError") setBlocked(true); });
    }
  }
  // Counted on the page (tests and people can see it), played when sound is on.
  function ring() {
    if (board) board.dataset.chimes = String(Number(board.dataset.chimes || 0) + 1);
    if (soundOn()) playChime();
  }
  function detectBlockedAudio() {
    if (!soundOn()) return;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      const probe = new Context();
      if (probe.state !== "running") setBlocked(true);
      if (probe.close) probe.close().catch(() => {});
    } catch (e) { /* no audio at all: nothing to say */ }
  }
  soundButton?.addEventListener("click", () => {
    // Browsers allow audio after a tap: this tap both unlocks and tests the sound.
    if (soundOn() && soundBlocked) {
      soundBlocked = false;
      renderSound();
      playChime();
      return;
    }
    localStorage.setItem(SOUND_KEY, soundOn() ? "off" : "on");
    soundBlocked = false;
    renderSound();
    if (soundOn()) playChime();
  });
  detectBlockedAudio();
  renderSound();

  // -- messages ---------------------------------------------------------------------------
  let connection = null;
  function requestSnapshot() {
    if (awaitingSnapshot || !connection || !connection.socket || connection.socket.readyState !== 1) return;
    awaitingSnapshot = true;
    connection.socket.send(JSON.stringify({ type: "snapshot" }));
  }
  document.addEventListener("htmx:ws:after:connection", (event) => { connection = event.detail.connection; });

  let chimedNow = false;
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
    if (data.now) serverNow = data.now;
    chimedNow = Boolean(data.chime);
    if (data.chime) ring();
  });

  document.addEventListener("htmx:ws:after:message:incoming", () => {
    syncClock();
    tickWaiting(chimedNow);
    chimedNow = false;
    afterChange();
  });

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
    // The emergency roll's answer carries its number the same way.
    const roll = document.querySelector("#emergency[data-answer-seq]");
    if (roll) {
      const rolled = Number(roll.dataset.answerSeq);
      delete roll.dataset.answerSeq;
      if (rolled < lastSeq) requestSnapshot();
    }
    const live = document.getElementById("live");
    if (!live || live.dataset.seq === undefined) return;
    const answered = Number(live.dataset.seq);
    delete live.dataset.seq;
    if (answered < lastSeq) requestSnapshot();
  }
  document.addEventListener("htmx:after:swap", () => {
    syncClock();
    tickWaiting(true);
    checkAnswerSeq();
    openDialogs();
    afterChange();
  });
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

  // -- waiting time, overdue alerts, undo deadlines ----------------------------------------
  // Minutes are counted on the server's clock: each render carries its "now" (data-now).
  let clockOffset = 0;
  let serverNow = null;
  function syncClock() {
    const stamp = document.querySelector("#alerts[data-now]");
    const parsed = Date.parse((stamp && stamp.dataset.now) || serverNow || "");
    if (!Number.isNaN(parsed)) clockOffset = parsed - Date.now();
  }
  // Alerts already highlighted as overdue: each chimes again once, not at every tick.
  const overdueSeen = new Set();
  let firstTick = true;
  function tickWaiting(silent) {
    const now = Date.now() + clockOffset;
    const alerts = document.getElementById("alerts");
    const limit = Number((alerts && alerts.dataset.overdueMinutes) || 3) * 60000;
    let newlyOverdue = false;
    document.querySelectorAll("time[data-since]").forEach((el) => {
      const since = Date.parse(el.dataset.since);
      if (Number.isNaN(since)) return;
      el.textContent = Math.max(0, Math.floor((now - since) / 60000)) + " min";
      const alert = el.closest("li.alert");
      if (!alert) return;
      const overdue = now - since > limit;
      alert.classList.toggle("alert--overdue", overdue);
      if (overdue && !overdueSeen.has(alert.id)) {
        overdueSeen.add(alert.id);
        newlyOverdue = true;
      }
    });
    if (newlyOverdue && !silent && !firstTick) ring();
    firstTick = false;
    tickFixAges(now);
    document.querySelectorAll("#undos .undo[data-until], #emergency .roll__undo[data-until]").forEach((offer) => {
      if (Date.parse(offer.dataset.until) <= now) offer.remove();
    });
    // An emergency's elapsed time (m:ss), on the server's clock.
    document.querySelectorAll("#emergency time[data-elapsed-since]").forEach((el) => {
      const seconds = Math.max(0, Math.floor((now - Date.parse(el.dataset.elapsedSince)) / 1000));
      el.textContent = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
    });
  }
  // The age of a GPS fix (board/_gps.html): the same words and thresholds as the server's
  // render, « signal perdu » from data-lost-at. A new fix re-renders the row.
  const ageWords = document.getElementById("board-words")?.dataset || {};
  const plural = new Intl.PluralRules(document.documentElement.lang || "fr-CA");
  function fixAge(seconds) {
    if (seconds < 10) return ageWords.ageNow || "";
    const [count, unit] = seconds < 60 ? [Math.floor(seconds / 10) * 10, "Seconds"] : [Math.floor(seconds / 60), "Minutes"];
    const form = ageWords["age" + unit + (plural.select(count) === "one" ? "One" : "Other")] || "{count}";
    return form.replace("{count}", String(count));
  }
  function tickFixAges(now) {
    document.querySelectorAll(".gps[data-fix-at]").forEach((el) => {
      const fixAt = Date.parse(el.dataset.fixAt);
      if (Number.isNaN(fixAt)) return;
      const age = fixAge(Math.max(0, Math.floor((now - fixAt) / 1000)));
      const lost = now >= Date.parse(el.dataset.lostAt);
      const text = (lost ? ageWords.gpsLost : el.dataset.live).replace("{age}", age);
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("gps--lost", lost);
      el.classList.toggle("gps--live", !lost);
    });
  }
  syncClock();
  tickWaiting(true);
  window.setInterval(() => tickWaiting(false), 1000);

  // -- « N arrivées »: a new alert out of view is one tap away ----------------------------
  const arrivalsBar = document.getElementById("arrivals-bar");
  const knownAlerts = new Set(Array.from(document.querySelectorAll("#alert-list > li.alert"), (li) => li.id));
  let unseen = [];
  function topbarHeight() {
    const topbar = document.querySelector(".topbar");
    return topbar ? topbar.getBoundingClientRect().bottom : 0;
  }
  function inView(el) {
    if (!el.isConnected) return true;
    const rect = el.getBoundingClientRect();
    const top = Math.max(topbarHeight(), 0);
    const bottom = window.innerHeight;
    if (rect.bottom <= top + 8 || rect.top >= bottom - 8) return false;
    // Inside a scrolled column (the arrivals in landscape): visible there too.
    const column = el.closest("#alerts");
    if (column && column.scrollHeight > column.clientHeight) {
      const box = column.getBoundingClientRect();
      if (rect.bottom <= box.top + 8 || rect.top >= box.bottom - 8) return false;
    }
    return true;
  }
  function renderArrivalsBar() {
    if (!arrivalsBar) return;
    unseen = unseen.filter((el) => el.isConnected && !inView(el));
    if (!unseen.length) { arrivalsBar.hidden = true; return; }
    const count = document.querySelectorAll("#alert-list > li.alert").length;
    arrivalsBar.textContent = count === 1 ? arrivalsBar.dataset.one : arrivalsBar.dataset.many.replace("{count}", String(count));
    arrivalsBar.dataset.count = String(count);
    arrivalsBar.hidden = false;
  }
  function noticeNewAlerts() {
    const rows = Array.from(document.querySelectorAll("#alert-list > li.alert"));
    for (const li of rows) {
      if (!knownAlerts.has(li.id)) {
        knownAlerts.add(li.id);
        unseen.push(li);
      }
    }
    // A row re-rendered (a step) is a new element with the same id: follow the new one.
    unseen = unseen.map((el) => (el.isConnected ? el : document.getElementById(el.id))).filter(Boolean);
    renderArrivalsBar();
  }
  arrivalsBar?.addEventListener("click", () => {
    const target = unseen.find((el) => el.isConnected) || document.getElementById("alerts");
    target?.scrollIntoView({ block: "center" });
    unseen = [];
    arrivalsBar.hidden = true;
  });
  window.addEventListener("scroll", () => renderArrivalsBar(), { passive: true, capture: true });

  // -- dialogs (Départ's confirmation, « Retirer ») ---------------------------------------
  function openDialogs() {
    document.querySelectorAll("#dialog-slot dialog[data-autoshow]:not([open])").forEach((dialog) => {
      dialog.removeAttribute("data-autoshow");
      dialog.addEventListener("close", () => { if (!dialog.dataset.keep) dialog.remove(); });
      dialog.showModal();
    });
  }

  // -- failures: a toast with the reason and a retry; the board shows the truth again ------
  const toast = document.getElementById("toast");
  // The words come from the page (translated with the rest of it).
  const words = Object.assign(
    { offline: "Offline", server: "Error", retry: "Retry", close: "Close" },
    document.getElementById("board-words")?.dataset || {},
  );
  function reasonFrom(text) {
    if (!text) return "";
    const doc = new DOMParser().parseFromString(text, "text/html");
    const found = doc.getElementById("toast");
    return found ? found.textContent.trim() : "";
  }
  function showFailure(message, retry) {
    if (!toast) return;
    toast.className = "toast toast--error toast--sticky";
    toast.setAttribute("role", "alert");
    toast.replaceChildren();
    const text = document.createElement("span");
    text.className = "toast__text";
    text.textContent = message;
    toast.append(text);
    if (retry) {
      const again = document.createElement("button");
      again.type = "button";
      again.className = "button button--small toast__retry";
      again.textContent = words.retry;
      again.addEventListener("click", () => { hideToast(); retry(); });
      toast.append(again);
    }
    const close = document.createElement("button");
    close.type = "button";
    close.className = "button button--small toast__close";
    close.textContent = words.close;
    close.addEventListener("click", hideToast);
    toast.append(close);
  }
  function hideToast() {
    if (!toast) return;
    toast.className = "toast";
    toast.replaceChildren();
  }
  function retryOf(elt) {
    if (!(elt instanceof Element)) return null;
    const form = elt.closest("form");
    const post = elt.getAttribute("hx-post");
    const vals = elt.getAttribute("hx-vals");
    return () => {
      if (form && form.isConnected) { form.requestSubmit(); return; }
      // The board may have been re-rendered since (a snapshot after reconnecting): press the
      // same button as it is now, if that step is still the one to take.
      const same = elt.isConnected ? elt : Array.from(document.querySelectorAll("button[hx-post]")).find(
        (b) => b.getAttribute("hx-post") === post && b.getAttribute("hx-vals") === vals);
      if (same && !same.disabled) same.click();
    };
  }
  function keepDialog(elt) {
    // A press from a dialog that failed: close it (the toast must be seen) but keep its
    // form, so "Try again" can send it again.
    const dialog = elt instanceof Element ? elt.closest("dialog") : null;
    if (dialog) { dialog.dataset.keep = "1"; dialog.close(); }
  }
  function endDialog(elt) {
    const dialog = elt instanceof Element ? elt.closest("dialog") : null;
    if (dialog) { delete dialog.dataset.keep; if (dialog.open) dialog.close(); else dialog.remove(); }
  }
  document.addEventListener("htmx:after:request", (event) => {
    const ctx = event.detail && event.detail.ctx;
    if (!ctx || !ctx.response) return;
    const status = ctx.response.status;
    const elt = ctx.sourceElement || event.target;
    if (status < 400) { if (!(ctx.request && ctx.request.method === "GET")) endDialog(elt); return; }
    if (status === 401) return; // signed out: htmx follows HX-Redirect to the sign-in page
    event.preventDefault(); // our own toast, not the error page's
    const refused = status === 409 || status === 422 || status === 404 || status === 403;
    const message = reasonFrom(ctx.text) || words.server;
    keepDialog(elt);
    showFailure(message, refused ? null : retryOf(elt));
    if (refused) endDialog(elt);
    requestSnapshot();
  });
  document.addEventListener("htmx:error", (event) => {
    const ctx = event.detail && event.detail.ctx;
    if (!ctx) return;
    const elt = ctx.sourceElement || event.target;
    keepDialog(elt);
    showFailure(words.offline, retryOf(elt));
  });

  // -- the wall: pages of alerts, « +N autres » -------------------------------------------
  const PAGE_MS = 8000;
  const wallMore = document.getElementById("wall-more");
  let wallPage = 0;
  function layoutWall() {
    if (!isWall || !wallMore) return;
    const list = document.getElementById("alert-list");
    const items = list ? Array.from(list.children) : [];
    if (!list || !items.length) { wallMore.hidden = true; return; }
    const style = getComputedStyle(list);
    const columns = Number(style.getPropertyValue("--wall-columns")) || 4;
    const rows = Number(style.getPropertyValue("--wall-rows")) || 6;
    const perPage = columns * rows;
    const pages = Math.max(1, Math.ceil(items.length / perPage));
    if (wallPage >= pages) wallPage = 0;
    items.forEach((li, i) => { li.hidden = Math.floor(i / perPage) !== wallPage; });
    const shown = items.filter((li) => !li.hidden).length;
    const others = items.length - shown;
    list.dataset.page = String(wallPage + 1);
    list.dataset.pages = String(pages);
    wallMore.hidden = others === 0;
    wallMore.dataset.count = String(others);
    wallMore.textContent = others === 0 ? "" : (others === 1 ? wallMore.dataset.moreOne : wallMore.dataset.more).replace("{count}", String(others)) + " · " +
      wallMore.dataset.page.replace("{page}", String(wallPage + 1)).replace("{pages}", String(pages));
  }
  if (isWall) window.setInterval(() => { wallPage += 1; layoutWall(); }, PAGE_MS);

  function afterChange() {
    noticeNewAlerts();
    layoutWall();
  }
  afterChange();

  // The sticky top bar's height, for what sticks or floats below it.
  function measureTopbar() {
    const topbar = document.querySelector(".topbar");
    if (topbar) document.documentElement.style.setProperty("--topbar-h", topbar.offsetHeight + "px");
  }
  window.addEventListener("resize", measureTopbar);
  measureTopbar();

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
