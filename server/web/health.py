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
    # The worker's process id: which of several workers answered (a load balancer's view).
    return JSONResponse(
        {"status": "ok", "boards": svc.hub.connection_count(), "worker": os.getpid()}
    )


async def home(request: Request) -> Response:
    principal = await staff_principal(request)
    return RedirectResponse("/board" if principal else "/login", status_code=303)


routes = [Route("/healthz", healthz), Route("/", home)]
