"""The centre's photo approvals from the portal (/portal/photos/...), for its installation."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..photo_requests import decide
from ..sessions import require_center


async def approve(request: Request) -> Response:
    """The green "Oui": the new photo becomes the photo."""
    await decide(request, await require_center(request), approve=True)
    return RedirectResponse("/portal/approvals", status_code=303)


async def refuse(request: Request) -> Response:
    """The "Non": the new photo is discarded; the former one stays."""
    await decide(request, await require_center(request), approve=False)
    return RedirectResponse("/portal/approvals", status_code=303)


routes: list[BaseRoute] = [
    Route("/portal/photos/{kind}/{target_id}/approve", approve, methods=["POST"]),
    Route("/portal/photos/{kind}/{target_id}/refuse", refuse, methods=["POST"]),
]
