"""Origin check for WebSockets: browsers always send Origin; a page of another site must not
open a board socket with the staff member's cookies (cross-site WebSocket hijacking)."""

from __future__ import annotations

from starlette.requests import HTTPConnection


def origin_allowed(conn: HTTPConnection, extra_allowed: tuple[str, ...] = ()) -> bool:
    origin = conn.headers.get("origin")
    if not origin:
        return False
    host = conn.headers.get("host", "")
    scheme = "https" if conn.url.scheme in {"wss", "https"} else "http"
    own = {f"{scheme}://{host}", f"http://{host}", f"https://{host}"} if host else set()
    return origin in own or origin in extra_allowed
