// Relais director's overview: htmx's WebSocket extension swaps the installation cards the
// server pushes (out of band, by id); this file only shows the connection's state, like the
// board's pill, and reloads when the sign-in ended (the page then asks to sign in again).
(() => {
  "use strict";

  const pill = document.getElementById("overview-conn");
  function setConn(state) {
    if (!pill) return;
    pill.className = "conn conn--" + state;
    const text = pill.dataset[state];
    if (text) pill.textContent = text;
    document.body.dataset.conn = state;
  }

  document.addEventListener("htmx:ws:after:connection", () => setConn("live"));
  document.addEventListener("htmx:ws:before:message:incoming", (event) => {
    let data;
    try { data = JSON.parse(event.detail.message.data); } catch (e) { return; }
    if (data.status === "degraded") setConn("reconnecting");
    else if (data.status === "live" || data.overview) setConn("live");
  });
  document.addEventListener("htmx:ws:close", (event) => {
    const code = event.detail && event.detail.code;
    if (code === 4001 || code === 1008) {
      // Signed out or no longer a director: no point reconnecting.
      setConn("ended");
      window.setTimeout(() => { window.location.reload(); }, 1500);
      return;
    }
    setConn("reconnecting");
  });
})();
