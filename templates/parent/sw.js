// Relais parent service worker (scope /parent): the offline page when the network is gone,
// and the notifications Web Push brings while the page is closed or the phone locked.
"use strict";

const OFFLINE_URL = {{ offline_url|tojson }};
const HOME_URL = {{ home_url|tojson }};
const ICON = {{ icon|tojson }};
// Versioned by the files' own versions: a new stylesheet makes a new worker and cache.
const CACHE = "relais-parent-" + {{ stylesheet|tojson }} + {{ offline_script|tojson }};
const KEEP = [OFFLINE_URL, {{ stylesheet|tojson }}, {{ offline_script|tojson }}, ICON];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(KEEP)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("relais-parent-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    // Always the network first: the page is live. Only when it cannot be reached, the note
    // that the announcement already made stands.
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE_URL)));
    return;
  }
  const path = new URL(request.url).pathname + new URL(request.url).search;
  if (KEEP.includes(path)) {
    event.respondWith(caches.match(path).then((hit) => hit || fetch(request)));
  }
});

self.addEventListener("push", (event) => {
  let notice = {};
  try { notice = event.data ? event.data.json() : {}; } catch (e) { notice = {}; }
  const title = notice.title || "Relais";
  event.waitUntil(self.registration.showNotification(title, {
    body: notice.body || "",
    icon: ICON,
    badge: ICON,
    // One notification per child: « Prêt » replaces « En préparation ».
    tag: "relais-" + (notice.child || ""),
    renotify: true,
    requireInteraction: notice.state === "ready",
    data: { url: HOME_URL, state: notice.state || "", child: notice.child || "" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname.startsWith(HOME_URL));
      return open ? open.focus() : self.clients.openWindow(HOME_URL);
    })
  );
});
