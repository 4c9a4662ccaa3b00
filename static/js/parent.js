// Relais parent page: what HTML alone cannot do — the live connection state, a sound and a
// vibration when a child is ready, keeping the parent's choices across live updates, the
// file picker's chosen name, and sharing the phone's position during the trip, honestly
// (how old the last position is, « signal perdu », resuming after a reload).
(() => {
  "use strict";

  const root = document.getElementById("parent");
  const conn = document.getElementById("conn");
  const trip = document.getElementById("trip");
  const tripStatus = document.getElementById("trip-status");
  const tripAge = document.getElementById("trip-age");
  const resumeButton = document.getElementById("trip-resume");
  const stopButton = document.getElementById("trip-stop");
  const consent = document.getElementById("gps-consent");
  const csrf = root ? root.dataset.csrf : "";
  const chime = new Audio("/static/sounds/chime.wav");
  const MAX_TRIP_MS = 60 * 60 * 1000;  // the page promises 60 minutes at most
  // Send a position when the phone moved enough to matter, and at least every 15 s.
  const SEND_AFTER_METERS = 30;
  const HEARTBEAT_MS = 15000;
  // No fix for this long while sharing: say « signal perdu » rather than look fine.
  const LOST_AFTER_MS = 60000;
  // This tab was sharing: a reload resumes by itself (closing the tab still stops, as the
  // consent text says — sessionStorage does not outlive the tab).
  const SHARING_KEY = "relais.sharing";
  const LIVE_STATES = ["tracking", "announced", "called", "ready"];

  function setConn(state) {
    if (!conn) return;
    conn.className = "conn conn--" + state;
    const label = { live: conn.dataset.live, reconnecting: conn.dataset.reconnecting, ended: conn.dataset.ended }[state];
    if (label) conn.textContent = label;
  }

  // -- ready: ring and vibrate once per child that becomes ready --------------------------
  const readyNow = () => new Set(
    [...document.querySelectorAll("#family .kid[data-state=ready]")].map((el) => el.dataset.pickup)
  );
  let announcedReady = readyNow();
  document.addEventListener("htmx:ws:before:message:incoming", (event) => {
    let data;
    try { data = JSON.parse(event.detail.message.data); } catch (e) { return; }
    if (data.status === "degraded") { setConn("reconnecting"); event.detail.cancelled = true; return; }
    setConn("live");
    const ready = new Set((data.ready || []).map(String));
    const fresh = [...ready].filter((id) => !announcedReady.has(id));
    announcedReady = ready;
    if (fresh.length) {
      document.body.dataset.readyAlerts = String(Number(document.body.dataset.readyAlerts || 0) + fresh.length);
      const played = chime.play();
      if (played && played.catch) played.catch(() => {});
      if (navigator.vibrate) navigator.vibrate([300, 150, 300]);
    }
  });
  document.addEventListener("htmx:ws:close", (event) => {
    setConn(event.detail && event.detail.code === 1008 ? "ended" : "reconnecting");
  });

  // -- the parent's choices survive live updates (the cards are re-rendered whole) ---------
  const unticked = new Set();
  const openDetails = new Set();

  function tickedChildren() {
    return [...document.querySelectorAll("input[name=child_id][form=announce]:checked")].map((el) => el.value);
  }

  // Nothing ticked: the announce buttons are off and say why (not a silent no-op).
  function updateChoice() {
    const none = tickedChildren().length === 0;
    document.querySelectorAll("#announce-controls .needs-child").forEach((button) => {
      button.disabled = none;
      if (none) button.setAttribute("aria-describedby", "pick-first");
      else button.removeAttribute("aria-describedby");
    });
    const why = document.getElementById("pick-first");
    if (why) why.hidden = !none;
  }

  function afterSwap() {
    document.querySelectorAll("input[name=child_id][form=announce]").forEach((box) => {
      if (unticked.has(box.value)) box.checked = false;
    });
    document.querySelectorAll("#family .kid").forEach((card) => {
      const details = card.querySelector("details.kid__more");
      if (details && openDetails.has(card.dataset.pickup)) details.open = true;
    });
    updateChoice();
    maybeStopTrip();
    renderTrip();
  }
  document.addEventListener("htmx:ws:after:message:incoming", afterSwap);
  document.addEventListener("htmx:after:swap", afterSwap);

  document.addEventListener("change", (event) => {
    const box = event.target.closest("input[name=child_id][form=announce]");
    if (box) {
      if (box.checked) unticked.delete(box.value); else unticked.add(box.value);
      updateChoice();
    }
    const file = event.target.closest(".file-pick__input");
    if (file) {
      const name = document.getElementById(file.id.replace(/-file$/, "-name"));
      if (name) name.textContent = file.files && file.files.length ? file.files[0].name : name.dataset.none;
    }
  });
  document.addEventListener("toggle", (event) => {
    const details = event.target;
    if (!details.matches || !details.matches("details.kid__more")) return;
    const card = details.closest(".kid");
    if (!card) return;
    if (details.open) openDetails.add(card.dataset.pickup); else openDetails.delete(card.dataset.pickup);
  }, true);

  // -- GPS trip ---------------------------------------------------------------------------
  let watchId = null;
  let starting = false;  // the next fix announces the ticked children (else: a resumed trip)
  let startedAt = 0;
  let lastSent = 0;  // when the last position left (throttles sending)
  let lastDelivered = 0;  // when the server last took one (what the page tells the parent)
  let lastFix = 0;
  let lastCoords = null;
  let tripChildren = [];
  let message = "";  // why sharing is not on, when there is more to say than "stopped"

  function metersBetween(a, b) {
    const rad = Math.PI / 180, r = 6371000;
    const dLat = (b.latitude - a.latitude) * rad, dLon = (b.longitude - a.longitude) * rad;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * r * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function post(url, fields) {
    const body = new FormData();
    Object.entries(fields).forEach(([k, v]) => [].concat(v).forEach((x) => body.append(k, x)));
    return fetch(url, { method: "POST", body, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" });
  }

  function positionFields(pos) {
    return {
      latitude: pos.coords.latitude,
      longitude: pos.coords.longitude,
      accuracy: pos.coords.accuracy,
      timestamp: new Date(pos.timestamp).toISOString(),
    };
  }

  // The family's GPS arrivals under way, as the cards (kept live by the socket) show them.
  function activeGpsChildren() {
    return [...document.querySelectorAll("#family .kid[data-mode=gps]")]
      .filter((card) => LIVE_STATES.includes(card.dataset.state))
      .map((card) => card.id.replace(/^kid-/, ""));
  }

  // "12 seconds ago", in the page's language, with its plural forms (ngettext, rendered once
  // by the server for the "one" and "other" categories; Intl picks the category).
  const plural = new Intl.PluralRules(document.documentElement.lang || "fr-CA");
  function sentAgo(ms) {
    const seconds = Math.max(0, Math.floor(ms / 1000));
    const [unit, n] = seconds < 60 ? ["s", seconds] : ["m", Math.floor(seconds / 60)];
    const form = plural.select(n) === "one" ? "one" : "other";
    return trip.dataset["sent" + unit.toUpperCase() + form[0].toUpperCase() + form.slice(1)].replace("{n}", n);
  }

  function tripState() {
    if (watchId !== null) {
      if (Date.now() - (lastFix || startedAt) > LOST_AFTER_MS) return "lost";
      return lastDelivered === 0 ? "waiting" : "sharing";
    }
    if (activeGpsChildren().length) return "stopped";
    return message ? "over" : "off";
  }

  function renderTrip() {
    if (!trip) return;
    const state = tripState();
    trip.dataset.state = state;
    document.body.dataset.gps = state;
    document.body.dataset.sharing = watchId !== null ? "yes" : "no";
    trip.hidden = state === "off";
    const texts = {
      waiting: trip.dataset.waiting,
      sharing: trip.dataset.sharing,
      lost: trip.dataset.lost,
      stopped: message || trip.dataset.resumable,
      over: message,
    };
    if (tripStatus.textContent !== (texts[state] || "")) tripStatus.textContent = texts[state] || "";
    tripAge.hidden = state === "off" || state === "over" || (lastDelivered === 0 && state !== "lost");
    tripAge.textContent = lastDelivered === 0 ? trip.dataset.noneSent : sentAgo(Date.now() - lastDelivered);
    resumeButton.hidden = state !== "stopped";
    stopButton.hidden = watchId === null;
  }
  setInterval(() => { if (watchId !== null || lastDelivered !== 0) renderTrip(); }, 1000);

  async function onPosition(pos) {
    lastFix = Date.now();
    if (Date.now() - startedAt > MAX_TRIP_MS) { stopTrip(); return; }
    const first = lastSent === 0;
    const moved = lastCoords ? metersBetween(lastCoords, pos.coords) : Infinity;
    if (!first && moved < SEND_AFTER_METERS && Date.now() - lastSent < HEARTBEAT_MS) { renderTrip(); return; }
    lastSent = Date.now();
    lastCoords = { latitude: pos.coords.latitude, longitude: pos.coords.longitude };
    const announcing = starting;
    starting = false;
    renderTrip();
    const fields = positionFields(pos);
    if (announcing) fields.child_id = tripChildren;
    let response;
    try {
      response = await post(announcing ? trip.dataset.start : trip.dataset.position, fields);
    } catch (e) {
      // No network (a tunnel): keep watching; the next fix tries again (the trip's start
      // too), and meanwhile the age of the last position delivered keeps growing on screen.
      if (announcing) { starting = true; lastSent = 0; }
      renderTrip();
      return;
    }
    if (response.ok) lastDelivered = Date.now();
    if (announcing) {
      // The answer is the notices, plus the family's live parts out of band.
      const html = await response.text();
      const notices = document.getElementById("notices");
      if (notices && window.htmx) htmx.swap({ target: notices, text: html, swap: "innerHTML" });
      if (!response.ok) { sessionStorage.removeItem(SHARING_KEY); stopTrip(true, ""); }
    } else if (response.status === 403 || response.status === 422) {
      // Refused (consent withdrawn, past the 60 minutes): the server keeps nothing more.
      stopTrip(false, await response.text());
      sessionStorage.removeItem(SHARING_KEY);
    }
    renderTrip();
  }

  function watch() {
    startedAt = Date.now();
    lastSent = 0;
    lastDelivered = 0;
    lastFix = 0;
    lastCoords = null;
    message = "";
    sessionStorage.setItem(SHARING_KEY, "yes");
    watchId = navigator.geolocation.watchPosition(onPosition, (error) => {
      // A lost fix (tunnel, timeout) is normal on the road: keep watching, and the panel
      // says « signal perdu » after a minute. Only a refusal ends it.
      if (error.code !== error.PERMISSION_DENIED) return;
      sessionStorage.removeItem(SHARING_KEY);
      stopTrip(false, trip.dataset.denied);
    }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
    renderTrip();
  }

  function startTrip() {
    tripChildren = tickedChildren();
    if (!tripChildren.length || !navigator.geolocation || watchId !== null) return;
    starting = true;
    watch();
  }

  function resumeTrip() {
    tripChildren = activeGpsChildren();
    if (!tripChildren.length || !navigator.geolocation || watchId !== null) return;
    starting = false;
    watch();
  }

  function stopTrip(tell = true, why = trip ? trip.dataset.stopped : "") {
    if (watchId !== null) navigator.geolocation.clearWatch(watchId);
    const wasSharing = watchId !== null && lastSent !== 0;
    watchId = null;
    starting = false;
    if (wasSharing && tell) {
      const body = new FormData();
      body.append("csrf_token", csrf);
      navigator.sendBeacon(trip.dataset.stop, body);
    }
    message = why;
    renderTrip();
  }

  // Sharing ends when every child of the trip has left, or the arrival was cancelled.
  function maybeStopTrip() {
    if (watchId === null || starting) return;
    const stillComing = tripChildren.some((id) => {
      const kid = document.getElementById("kid-" + id);
      return kid && LIVE_STATES.includes(kid.dataset.state);
    });
    if (!stillComing && lastSent !== 0) {
      sessionStorage.removeItem(SHARING_KEY);
      stopTrip();
    }
  }

  // After a reload: a trip under way resumes by itself when this tab was sharing and the
  // phone already allows the position; otherwise the panel says it stopped, with a button.
  async function resumeAfterReload() {
    if (!trip || !activeGpsChildren().length) { renderTrip(); return; }
    let granted = false;
    try {
      granted = (await navigator.permissions.query({ name: "geolocation" })).state === "granted";
    } catch (e) { granted = false; }
    const wasSharing = sessionStorage.getItem(SHARING_KEY) === "yes";
    if (granted && wasSharing && consent && consent.dataset.consented === "yes") resumeTrip();
    else renderTrip();
  }

  // -- consent: asked the first time, recorded by the server, then never asked again ------
  let afterConsent = startTrip;

  async function agree() {
    const response = await post(consent.dataset.give, {});
    if (!response.ok) return;
    consent.dataset.consented = "yes";
    consent.hidden = true;
    afterConsent();
  }

  function withConsent(action) {
    if (consent && consent.dataset.consented !== "yes") {
      afterConsent = action;
      consent.hidden = false;
      document.getElementById("gps-consent-yes").focus();
    } else {
      action();
    }
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("#share-gps")) withConsent(startTrip);
    if (event.target.closest("#trip-resume")) withConsent(resumeTrip);
    if (event.target.closest("#gps-consent-yes")) agree();
    if (event.target.closest("#gps-consent-no")) { consent.hidden = true; document.getElementById("share-gps")?.focus(); }
    if (event.target.closest("#trip-stop")) { sessionStorage.removeItem(SHARING_KEY); stopTrip(); }
  });
  // Closing or leaving the page stops sharing (the consent text says so); the tab's flag
  // stays, so a reload picks the trip up again.
  window.addEventListener("pagehide", () => { if (watchId !== null) stopTrip(); });

  updateChoice();
  resumeAfterReload();
})();
