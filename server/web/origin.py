"""Where a request comes from. Browsers send Origin with every WebSocket and every POST; a page
of another site must not open a board socket with the staff member's cookies (cross-site
WebSocket hijacking), nor submit a form with them (cross-site request forgery: the CSRF token
is the first wall, this is the second)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection


def origin_of(url: str) -> str | None:
    """scheme://host[:port] of an absolute http(s) URL; None for anything else."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(conn: HTTPConnection, extra_allowed: tuple[str, ...] = ()) -> set[str]:
    """The server's own origins: its Host over http or https (a TLS proxy may sit in front),
    RELAIS_PUBLIC_URL's, and the extra ones allowed by configuration."""
    host = conn.headers.get("host", "").lower()
    own = {f"http://{host}", f"https://{host}"} if host else set()
    services = getattr(conn.app.state, "services", None)
    public_url = services.settings.public_url if services is not None else None
    if public_url and (public := origin_of(public_url)):
        own.add(public)
    return own | {origin.lower().rstrip("/") for origin in extra_allowed}


def origin_allowed(conn: HTTPConnection, extra_allowed: tuple[str, ...] = ()) -> bool:
    """For WebSockets: the Origin header must be one of ours."""
    origin = conn.headers.get("origin")
    if not origin:
        return False
    return origin.lower().rstrip("/") in own_origins(conn, extra_allowed)


def same_site_request(conn: HTTPConnection, extra_allowed: tuple[str, ...] = ()) -> bool:
    """For state-changing requests: Origin, else Referer, must be one of ours. A request
    with neither (not a browser, or a very old one) is left to the CSRF token; "null" (a
    sandboxed frame, a file) is not ours."""
    origin = conn.headers.get("origin")
    if origin is not None:
        return origin.lower().rstrip("/") in own_origins(conn, extra_allowed)
    referer = conn.headers.get("referer")
    if referer is not None:
        return origin_of(referer) in own_origins(conn, extra_allowed)
    return True
