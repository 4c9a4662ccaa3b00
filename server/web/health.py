"""/healthz: is the database reachable? For load balancers and the test harness.

Anyone gets the status (and a 503 when the database does not answer). The details — which
part is down, the worker's pid, how many boards are open — only go to loopback (the host's
own monitoring, a proxy's health check) or to a caller with RELAIS_METRICS_TOKEN.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .context import services
from .sessions import staff_principal

log = logging.getLogger(__name__)


def may_see_details(request: Request) -> bool:
    token = services(request).settings.metrics_token
    scheme, _sep, given = request.headers.get("authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
        return True
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def healthz(request: Request) -> Response:
    svc = services(request)
    details = may_see_details(request)
    headers = {"Cache-Control": "no-store"}
    try:
        await svc.db.ping()
    except Exception as exc:
        log.warning("health check: the database does not answer: %s", exc)
        body = {"status": "error", "database": str(exc)[:200]} if details else {"status": "error"}
        return JSONResponse(body, status_code=503, headers=headers)
    # Redis down is "degraded", not an error: every worker is in the same state, changes
    # still commit, and boards resync when it returns; a load balancer should keep us.
    realtime = "ok" if svc.hub.broker_up else "down"
    status = "ok" if realtime == "ok" else "degraded"
    if not details:
        return JSONResponse({"status": status}, headers=headers)
    return JSONResponse(
        {
            "status": status,
            "database": "ok",
            "realtime": realtime,
            "boards": svc.hub.connection_count(),
            # Which of several workers answered.
            "worker": os.getpid(),
        },
        headers=headers,
    )


async def home(request: Request) -> Response:
    principal = await staff_principal(request)
    target = "board.page" if principal else "auth.login"
    return RedirectResponse(request.app.url_path_for(target), status_code=303)


routes = [Route("/healthz", healthz, name="health.healthz"), Route("/", home, name="health.home")]
