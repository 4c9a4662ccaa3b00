"""The director's photo approvals (/admin/photos/...); the list is a section of /admin
(admin/home.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..photo_requests import decide
from ..sessions import require_admin
from .common import see_other


async def approve(request: Request) -> Response:
    """The green "Oui": the new photo becomes the photo."""
    await decide(request, await require_admin(request), approve=True)
    return see_other(request, "admin.home")


async def refuse(request: Request) -> Response:
    """The "Non": the new photo is discarded; the former one stays."""
    await decide(request, await require_admin(request), approve=False)
    return see_other(request, "admin.home")


routes: list[BaseRoute] = [
    Route(
        "/admin/photos/{kind}/{target_id}/approve",
        approve,
        methods=["POST"],
        name="admin.photo_approve",
    ),
    Route(
        "/admin/photos/{kind}/{target_id}/refuse",
        refuse,
        methods=["POST"],
        name="admin.photo_refuse",
    ),
]
