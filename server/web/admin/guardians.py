"""The director's "Parents" section of /admin: guardians' account states, and (re)sending
invitations."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

import aiosmtplib
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...accounts import guardians as accounts
from ...accounts.authz import StaffPrincipal
from ...core import ratelimit
from ...core.i18n import _
from ...core.models import Guardian, Organization
from ..context import csrf_form, services
from ..context import public_base_url as public_base_url
from ..limits import path_id
from ..sessions import require_admin

log = logging.getLogger(__name__)

# The /admin list stays readable: at most this many rows, those still to activate first.
PARENTS_SHOWN = 100


async def admin_invite(request: Request) -> Response:
    """Send (or send again) a guardian's activation email; back to /admin with the outcome."""
    principal = await require_admin(request)
    await csrf_form(request)
    svc = services(request)
    guardian_id = path_id(request.path_params, "guardian_id")
    async with svc.db.session() as session:
        guardian = await session.get(Guardian, guardian_id)
        if guardian is None or guardian.organization_id != principal.organization_id:
            raise HTTPException(404, _("Not found, or not yours to see."))
        refused = await ratelimit.reinvite(
            session, f"guardian:{guardian_id}", f"staff:{principal.user_id}", svc.clock.now()
        )
        await session.commit()
    if refused is not None:
        return RedirectResponse(
            f"/admin?invite_wait={refused.retry_after}#parents", status_code=303
        )
    try:
        sent = await accounts.invite(
            svc.db, svc.clock, svc.mailer, guardian_id, public_base_url(request)
        )
    except (aiosmtplib.SMTPException, OSError):
        log.exception("invitation to guardian %s could not be sent", guardian_id)
        sent = False
    outcome = "invited" if sent else "invite_failed"
    return RedirectResponse(f"/admin?{outcome}={guardian_id}#parents", status_code=303)


async def admin_context(session: AsyncSession, principal: StaffPrincipal) -> dict[str, Any]:
    """What the /admin page's "Parents" section shows: the organization's guardians with their
    account state, those still to activate first, and when their last link was sent."""
    org_id = principal.organization_id
    counts = (
        await session.execute(
            select(
                func.count(),
                func.coalesce(
                    func.sum(case((col(Guardian.account_state) == "active", 1), else_=0)), 0
                ),
            ).where(col(Guardian.organization_id) == org_id)
        )
    ).one()
    guardians = (
        (
            await session.execute(
                select(Guardian)
                .where(col(Guardian.organization_id) == org_id)
                .order_by(
                    case((col(Guardian.account_state) == "active", 1), else_=0),
                    col(Guardian.last_name),
                    col(Guardian.first_name),
                    col(Guardian.id),
                )
                .limit(PARENTS_SHOWN)
            )
        )
        .scalars()
        .all()
    )
    ids = [g.id for g in guardians]
    last_sent = await accounts.last_invited(session, ids)
    organization = await session.get(Organization, org_id)
    zone = ZoneInfo(organization.timezone if organization else "America/Toronto")
    return {
        "parents": guardians,
        "parents_total": int(counts[0]),
        "parents_active": int(counts[1]),
        "parents_last_sent": {
            gid: at.astimezone(zone).strftime("%Y-%m-%d %H:%M") for gid, at in last_sent.items()
        },
    }


routes: list[BaseRoute] = [
    Route("/admin/guardians/{guardian_id}/invite", admin_invite, methods=["POST"])
]
