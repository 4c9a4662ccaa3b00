"""/admin/parents: the organization's parents and their accounts, those still to activate
first, with when their last activation link was sent (the button that sends one:
admin/guardians.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...accounts import queries as accounts
from ...accounts.guardians import last_invited
from ...core.i18n import format_datetime
from ..context import services
from ..routing import get
from ..sessions import require_admin
from .common import admin_page, organization_zone

# The parents' list stays readable: at most this many rows, those still to activate first.
PARENTS_SHOWN = 100


async def parents_page(request: Request) -> Response:
    principal = await require_admin(request)
    organization_id = principal.organization_id
    async with services(request).db.session() as session:
        total, active = await accounts.guardian_accounts(session, organization_id)
        guardians = await accounts.guardians_to_activate_first(
            session, organization_id, PARENTS_SHOWN
        )
        last_sent = await last_invited(session, [g.id for g in guardians])
        zone = await organization_zone(session, organization_id)
    return admin_page(
        request,
        "admin/parents.html",
        "parents",
        parents=guardians,
        parents_total=total,
        parents_active=active,
        parents_last_sent={gid: format_datetime(at, zone.key) for gid, at in last_sent.items()},
    )


routes: list[BaseRoute] = [get("/admin/parents", parents_page, "admin.parents")]
