"""The director's photo approvals (/admin/photos/...) and the /admin section that lists them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...accounts.authz import StaffPrincipal
from ...photos import service as photos
from ..photo_requests import decide
from ..sessions import require_admin


async def approve(request: Request) -> Response:
    """The green "Oui": the new photo becomes the photo."""
    await decide(request, await require_admin(request), approve=True)
    return RedirectResponse("/admin", status_code=303)


async def refuse(request: Request) -> Response:
    """The "Non": the new photo is discarded; the former one stays."""
    await decide(request, await require_admin(request), approve=False)
    return RedirectResponse("/admin", status_code=303)


async def admin_context(session: AsyncSession, principal: StaffPrincipal) -> dict[str, Any]:
    """What the /admin page's "Pending approval" section shows."""
    return {"pending_photos": await photos.pending_photos(session, principal.organization_id)}


routes: list[BaseRoute] = [
    Route("/admin/photos/{kind}/{target_id}/approve", approve, methods=["POST"]),
    Route("/admin/photos/{kind}/{target_id}/refuse", refuse, methods=["POST"]),
]
