// Relais parent offline page (served by the service worker when the network is gone): go
// back to the live page as soon as Relais answers again — checked every 20 s and when the
// phone says it is online — and never reload before (no timed refresh under the reader).
(() => {
  "use strict";

  const home = document.currentScript.dataset.home;
  let asking = false;

  async function tryHome() {
    if (asking) return;
    asking = true;
    try {
      await fetch(home, { method: "HEAD", cache: "no-store", credentials: "same-origin" });
      window.location.href = home;  // any answer: the server is there again
    } catch (e) {
      // still no network: stay, ask again later
    } finally {
      asking = false;
    }
  }

  window.addEventListener("online", tryHome);
  setInterval(tryHome, 20000);
})();
