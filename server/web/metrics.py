"""GET /metrics: Prometheus's text format, for the host's own monitoring (loopback) or a
caller with RELAIS_METRICS_TOKEN; anyone else gets the 404 of a page that does not exist."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ..core import metrics
from .context import services
from .health import may_see_details
from .routing import get


async def metrics_page(request: Request) -> Response:
    if not may_see_details(request):
        raise HTTPException(404)
    svc = services(request)
    # This worker's own view of its database, fresh (the others refresh theirs every tick).
    try:
        await svc.db.ping()
        metrics.UP.labels("database").set(1)
    except Exception:
        metrics.UP.labels("database").set(0)
    return Response(
        metrics.exposition(),
        media_type=metrics.CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )


routes = [get("/metrics", metrics_page, "metrics")]
