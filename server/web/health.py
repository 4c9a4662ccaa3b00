"""/healthz: is the database reachable? For load balancers and the test harness."""

from __future__ import annotations

import os

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .context import services, staff_principal


async def healthz(request: Request) -> Response:
    svc = services(request)
    try:
        async with svc.db.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        return JSONResponse({"status": "error", "database": str(exc)[:200]}, status_code=503)
    # Redis down is "degraded", not an error: every worker is in the same state, changes
    # still commit, and boards resync when it returns; a load balancer should keep us.
    realtime = "ok" if svc.hub.broker_up else "down"
    return JSONResponse(
        {
            "status": "ok" if realtime == "ok" else "degraded",
            "database": "ok",
            "realtime": realtime,
            "boards": svc.hub.connection_count(),
            # Which of several workers answered.
            "worker": os.getpid(),
        }
    )


async def home(request: Request) -> Response:
    principal = await staff_principal(request)
    return RedirectResponse("/board" if principal else "/login", status_code=303)


routes = [Route("/healthz", healthz), Route("/", home)]
