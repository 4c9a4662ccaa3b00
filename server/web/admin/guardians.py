"""/admin/parents (the page: admin/parents.py): (re)sending a guardian the
activation email."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...accounts import guardians as accounts
from ...core import ratelimit
from ...core.models import Guardian
from ..context import public_base_url, services
from ..lookups import owned
from ..routing import post
from .common import admin_form, see_other


async def admin_invite(request: Request) -> Response:
    """Send (or send again) a guardian's activation email; back to /admin/parents, saying how."""
    principal, _form = await admin_form(request)
    svc = services(request)
    guardian_id: int = request.path_params["guardian_id"]
    async with svc.db.session() as session:
        await owned(session, Guardian, guardian_id, principal.organization_id)
        refused = await ratelimit.reinvite(
            session, f"guardian:{guardian_id}", f"staff:{principal.user_id}", svc.clock.now()
        )
        await session.commit()
    if refused is not None:
        wait = {"invite_wait": refused.retry_after}
        return see_other(request, "admin.parents", query=wait)
    sent = await accounts.invite(
        svc.db, svc.clock, svc.mailer, guardian_id, public_base_url(request)
    )
    outcome = "invited" if sent else "invite_failed"
    return see_other(request, "admin.parents", query={outcome: guardian_id})


routes: list[BaseRoute] = [
    post("/admin/guardians/{guardian_id:id}/invite", admin_invite, "admin.guardian_invite")
]
