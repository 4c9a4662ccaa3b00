// Relais parent page, the installable app: registers the service worker (offline page,
// notifications) and turns Web Push on or off for this device — what HTML alone cannot do.
(() => {
  "use strict";

  const box = document.getElementById("push");
  if (!box || !("serviceWorker" in navigator)) return;
  const on = document.getElementById("push-on");
  const preparing = document.getElementById("push-preparing");
  const status = document.getElementById("push-status");
  const csrf = document.getElementById("parent").dataset.csrf;

  navigator.serviceWorker.register(box.dataset.worker, { scope: box.dataset.scope }).catch(() => {});
  box.hidden = false;

  function say(text) { status.textContent = text; }
  function showOn(state) { on.checked = state; preparing.disabled = !state; }

  if (!("PushManager" in window) || !("Notification" in window)) {
    on.disabled = true;
    preparing.disabled = true;
    say(box.dataset.unsupported);
    return;
  }

  function send(method, body) {
    return fetch(box.dataset.subscriptions, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then((answer) => {
      if (!answer.ok) throw new Error("push subscription: HTTP " + answer.status);
      return answer;
    });
  }

  // The VAPID key as PushManager takes it: base64url text to bytes.
  function keyBytes(text) {
    const base64 = (text + "=".repeat((4 - (text.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  function sameKey(subscription, key) {
    const current = subscription.options && subscription.options.applicationServerKey;
    if (!current) return true;
    const a = new Uint8Array(current);
    return a.length === key.length && a.every((byte, i) => byte === key[i]);
  }

  async function subscription() {
    const registration = await navigator.serviceWorker.ready;
    const answer = await fetch(box.dataset.key, { headers: { Accept: "application/json" } });
    const key = keyBytes((await answer.json()).key);
    let current = await registration.pushManager.getSubscription();
    if (current && !sameKey(current, key)) {  // the server's key changed: subscribe anew
      await current.unsubscribe();
      current = null;
    }
    return current || registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }

  async function turnOn() {
    if ((await Notification.requestPermission()) !== "granted") {
      showOn(false);
      say(box.dataset.denied);
      return;
    }
    const current = await subscription();
    await send("POST", { ...current.toJSON(), preparing: preparing.checked });
    showOn(true);
    say(box.dataset.on);
  }

  async function turnOff() {
    const registration = await navigator.serviceWorker.ready;
    const current = await registration.pushManager.getSubscription();
    if (current) {
      await send("DELETE", { endpoint: current.endpoint });
      await current.unsubscribe();
    }
    showOn(false);
    say(box.dataset.off);
  }

  function failed() {
    showOn(false);
    say(box.dataset.failed);
  }

  on.addEventListener("change", () => (on.checked ? turnOn() : turnOff()).catch(failed));
  preparing.addEventListener("change", () => { if (on.checked) turnOn().catch(failed); });

  // What the server remembers for this sign-in holds only while the browser still has it.
  showOn(on.checked && Notification.permission === "granted");
  if (on.checked) {
    navigator.serviceWorker.ready
      .then((registration) => registration.pushManager.getSubscription())
      .then((current) => { if (!current) showOn(false); })
      .catch(() => {});
  }
})();
