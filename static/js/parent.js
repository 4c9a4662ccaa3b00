// Relais parent page: what HTML alone cannot do — the live connection state, a sound and a
// vibration when a child is ready, and sharing the phone's position during the trip.
(() => {
  "use strict";

  const root = document.getElementById("parent");
  const conn = document.getElementById("conn");
  const trip = document.getElementById("trip");
  const tripStatus = document.getElementById("trip-status");
  const csrf = root ? root.dataset.csrf : "";
  const chime = new Audio("/static/sounds/chime.wav");
  const MAX_TRIP_MS = 60 * 60 * 1000;  // the page promises 60 minutes at most
  // Send a position when the phone moved enough to matter, and at least every 15 s.
  const SEND_AFTER_METERS = 30;
  const HEARTBEAT_MS = 15000;

  function setConn(state) {
    if (!conn) return;
    conn.className = "conn conn--" + state;
    const label = { live: conn.dataset.live, reconnecting: conn.dataset.reconnecting, ended: conn.dataset.ended }[state];
    if (label) conn.textContent = label;
  }

  // -- ready: ring and vibrate once per child that becomes ready --------------------------
  let announcedReady = new Set(
    [...document.querySelectorAll(".live-pickup[data-state=ready]")].map((el) => el.id)
  );
  document.addEventListener("htmx:ws:before:message:incoming", (event) => {
    let data;
    try { data = JSON.parse(event.detail.message.data); } catch (e) { return; }
    if (data.status === "degraded") { setConn("reconnecting"); event.detail.cancelled = true; return; }
    setConn("live");
    const ready = new Set((data.ready || []).map((id) => "live-" + id));
    const fresh = [...ready].filter((id) => !announcedReady.has(id));
    announcedReady = ready;
    if (fresh.length) {
      document.body.dataset.readyAlerts = String(Number(document.body.dataset.readyAlerts || 0) + fresh.length);
      const played = chime.play();
      if (played && played.catch) played.catch(() => {});
      if (navigator.vibrate) navigator.vibrate([300, 150, 300]);
    }
  });
  document.addEventListener("htmx:ws:after:message:incoming", () => maybeStopTrip());
  document.addEventListener("htmx:ws:close", (event) => {
    setConn(event.detail && event.detail.code === 1008 ? "ended" : "reconnecting");
  });

  // -- GPS trip ---------------------------------------------------------------------------
  let watchId = null;
  let startedAt = 0;
  let lastSent = 0;
  let lastCoords = null;
  let tripChildren = [];

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

  async function onPosition(pos) {
    if (Date.now() - startedAt > MAX_TRIP_MS) { stopTrip(); return; }
    const first = lastSent === 0;
    const moved = lastCoords ? metersBetween(lastCoords, pos.coords) : Infinity;
    if (!first && moved < SEND_AFTER_METERS && Date.now() - lastSent < HEARTBEAT_MS) return;
    lastSent = Date.now();
    lastCoords = { latitude: pos.coords.latitude, longitude: pos.coords.longitude };
    const url = first ? trip.dataset.start : trip.dataset.position;
    const fields = positionFields(pos);
    if (first) fields.child_id = tripChildren;
    const response = await post(url, fields);
    // Refused (consent withdrawn, past the 60 minutes): the server keeps nothing more.
    if (!first && (response.status === 403 || response.status === 422)) {
      tripStatus.textContent = await response.text();
      stopTrip(false);
      return;
    }
    if (first) {
      // The answer is the notices, plus the family's live parts out of band.
      const html = await response.text();
      const notices = document.getElementById("notices");
      if (notices && window.htmx) htmx.swap({ target: notices, text: html, swap: "innerHTML" });
      if (!response.ok) stopTrip();
    }
  }

  function startTrip() {
    tripChildren = [...document.querySelectorAll("#announce input[name=child_id]:checked")].map((el) => el.value);
    if (!tripChildren.length || !navigator.geolocation) return;
    trip.hidden = false;
    tripStatus.textContent = trip.dataset.sharing;
    startedAt = Date.now();
    lastSent = 0;
    lastCoords = null;
    watchId = navigator.geolocation.watchPosition(onPosition, (error) => {
      // A lost fix (tunnel, timeout) is normal on the road: keep watching. Only a refusal ends it.
      if (error.code !== error.PERMISSION_DENIED) return;
      tripStatus.textContent = trip.dataset.denied;
      stopTrip(false);
    }, { enableHighAccuracy: true, maximumAge: 5000, timeout: 30000 });
  }

  function stopTrip(tell = true) {
    if (watchId !== null) navigator.geolocation.clearWatch(watchId);
    const wasSharing = watchId !== null && lastSent !== 0;
    watchId = null;
    if (wasSharing && tell) {
      const body = new FormData();
      body.append("csrf_token", csrf);
      navigator.sendBeacon(trip.dataset.stop, body);
    }
    if (trip && tell) tripStatus.textContent = trip.dataset.stopped;
    document.body.dataset.sharing = "no";
  }

  // Sharing ends when every child of the trip has left, or the arrival was cancelled.
  function maybeStopTrip() {
    if (watchId === null) return;
    const stillComing = tripChildren.some((id) => {
      const kid = document.getElementById("kid-" + id);
      return kid && ["tracking", "announced", "called", "ready"].includes(kid.dataset.state);
    });
    if (!stillComing && lastSent !== 0) stopTrip();
  }

  // -- consent: asked the first time, recorded by the server, then never asked again ------
  const consent = document.getElementById("gps-consent");

  function share() { startTrip(); document.body.dataset.sharing = "yes"; }

  async function agree() {
    const response = await post(consent.dataset.give, {});
    if (!response.ok) return;
    consent.dataset.consented = "yes";
    consent.hidden = true;
    share();
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("#share-gps")) {
      if (consent && consent.dataset.consented !== "yes") {
        consent.hidden = false;
        document.getElementById("gps-consent-yes").focus();
      } else {
        share();
      }
    }
    if (event.target.closest("#gps-consent-yes")) agree();
    if (event.target.closest("#gps-consent-no")) { consent.hidden = true; document.getElementById("share-gps")?.focus(); }
    if (event.target.closest("#trip-stop")) stopTrip();
  });
  window.addEventListener("pagehide", () => stopTrip());
})();
