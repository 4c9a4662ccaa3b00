"""Serving photos of children and guardians (/photos/...) to those allowed to see them: never
publicly, never cached. The image checks and the rules are in `server.photos.service`."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...accounts.authz import CenterPrincipal, GuardianPrincipal, StaffPrincipal
from ...photos import service as photos
from ..context import services
from ..limits import not_found
from ..photo_requests import photo_target
from ..routing import get
from ..sessions import center_principal, guardian_principal, staff_principal

PHOTO_HEADERS = {
    "Cache-Control": "private, no-store, max-age=0",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "same-origin",
}


async def serve(request: Request) -> Response:
    """GET /photos/{kind}/{id}[?pending=1]: the JPEG, to staff of the organization (admins
    anywhere, others in their installation), the child's guardians and authorized persons,
    or the guardian themself. Everyone else: 404, as if it did not exist."""
    kind, target_id = photo_target(request)
    pending = request.query_params.get("pending") == "1"
    viewers: list[StaffPrincipal | GuardianPrincipal | CenterPrincipal] = []
    staff = await staff_principal(request)
    if staff is not None:
        viewers.append(staff)
    centre = await center_principal(request)
    if centre is not None:
        viewers.append(centre)
    guardian = await guardian_principal(request)
    if guardian is not None:
        viewers.append(guardian)
    if not viewers:
        raise not_found()
    svc = services(request)
    async with svc.db.session() as session:
        name = await photos.visible_photo(session, viewers, kind, target_id, pending=pending)
    if name is None:
        raise not_found()
    try:
        path = photos.photo_path(svc.settings.photos_dir, name)
        data = await asyncio.to_thread(path.read_bytes)
    except (ValueError, OSError):
        raise not_found() from None
    return Response(data, media_type="image/jpeg", headers=PHOTO_HEADERS)


routes: list[BaseRoute] = [get("/photos/{kind}/{target_id:id}", serve, "photos.serve")]
