"""One line in the log and one observation in /metrics for each request and socket: its
route (the path's template, which names no token or id), status and duration, tagged with
a request id (the proxy's `X-Request-ID` when it sends a sane one, else a new one), which
every log line of the request carries and the response echoes."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core import metrics
from ..core.logs import ACCESS_LOGGER, REQUEST_ID

access = logging.getLogger(ACCESS_LOGGER)
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
UNMATCHED = "(no route)"


def _templates(routes: list[BaseRoute], prefix: str = "") -> dict[int, str]:
    """Each endpoint's path template by the endpoint's id, mounts included
    (`/api/v1/pickups/{pickup_id:id}`; `/static` for a static file)."""
    found: dict[int, str] = {}
    for route in routes:
        path = prefix + str(getattr(route, "path", ""))
        if isinstance(route, Mount):
            if route.routes:
                found.update(_templates(list(route.routes), path))
            else:
                found.setdefault(id(route.app), path or "/")
        elif (endpoint := getattr(route, "endpoint", None)) is not None:
            found.setdefault(id(endpoint), path)
    return found


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given: str = value.decode("latin-1")
            if _SANE_ID.match(given):
                return given
    return uuid.uuid4().hex


class Observe:
    """Pure ASGI, outermost (after Starlette's own error handler): it sees every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[int, str] | None = None

    def _route(self, scope: Scope) -> str:
        if self._routes is None:
            self._routes = _templates(list(scope["app"].routes))
        endpoint = scope.get("endpoint")
        return self._routes.get(id(endpoint), UNMATCHED) if endpoint is not None else UNMATCHED

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            elif kind == "websocket.accept":
                status = 101
            elif kind == "websocket.close" and status != 101:
                status = 403  # refused before it opened
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            duration = time.perf_counter() - started
            route = self._route(scope)
            method = scope.get("method", "WS") if kind == "http" else "WS"
            if kind == "http":
                metrics.REQUEST_SECONDS.labels(route, method).observe(duration)
            access.info(
                "request" if kind == "http" else "socket closed",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(duration * 1000, 1),
                },
            )
            REQUEST_ID.reset(token)
