"""The seed's « Approbation en attente » (/portal/approvals): the photos parents of the
centre's installation changed, before and after, with the green « Oui » and « Non »
(/portal/photos/...)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...photos.service import pending_photos
from ..context import services
from ..photo_requests import decision_routes
from ..routing import get
from ..sessions import require_center
from .common import installation_of, portal_page


async def approvals(request: Request) -> Response:
    """The photos waiting for the centre's answer, for its installation."""
    principal = await require_center(request)
    async with services(request).db.session() as session:
        pending = await pending_photos(
            session, principal.organization_id, principal.installation_id
        )
        installation = await installation_of(session, principal)
    return portal_page(
        request,
        "portal/approvals.html",
        "approvals",
        installation,
        pending_photos=pending,
        decide_area="portal",
    )


routes: list[BaseRoute] = [
    get("/portal/approvals", approvals, "portal.approvals"),
    *decision_routes("portal", require_center, back="portal.approvals"),
]
