"""/admin: the director's home. Short on purpose: the photos waiting for approval (until the
centre answers, that family cannot announce an arrival), then one card per section of the
administration with its key figure. Every list lives on its own page (wall displays:
admin/displays.py, parents: admin/parents.py…)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from ...accounts import queries as accounts
from ...photos import service as photos
from ...roster import integration
from ...roster import queries as roster
from ..context import services
from ..routing import get
from ..sessions import require_admin
from .common import admin_page

# What the parents' list read from /admin's query before it had a page of its own
# (/admin?invited=…#parents): such a link now opens /admin/parents with the same query.
_PARENTS_QUERY = ("invited", "invite_failed", "invite_wait")


async def admin_home(request: Request) -> Response:
    principal = await require_admin(request)
    if any(key in request.query_params for key in _PARENTS_QUERY):
        target = request.app.url_path_for("admin.parents")
        return RedirectResponse(f"{target}?{request.url.query}", status_code=303)
    organization_id = principal.organization_id
    async with services(request).db.session() as session:
        links = await integration.statuses(session, organization_id)
        children = await roster.active_children_count(session, organization_id)
        parents_total, parents_active = await accounts.guardian_accounts(session, organization_id)
        staff = await accounts.staff_users(session, organization_id)
        displays = await accounts.wall_displays(session, organization_id)
        tokens = await accounts.api_tokens(session, organization_id)
        pending = await photos.pending_photos(session, organization_id)
    return admin_page(
        request,
        "admin/page.html",
        "home",
        counts={
            "installations": len(links),
            "linked": sum(1 for link in links if link.ok),
            "children": children,
            "parents": parents_total,
            "parents_active": parents_active,
            "staff": sum(1 for user in staff if user.active),
            "displays": sum(1 for display in displays if display.revoked_at is None),
            "tokens": sum(1 for token in tokens if token.revoked_at is None),
        },
        pending_photos=pending,
    )


routes: list[BaseRoute] = [get("/admin", admin_home, "admin.home")]
