"""/admin/staff: staff accounts (invite, role, installation, home group, disable, re-enable)
and /staff/set-password/{token}, the page an invitation link opens."""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...accounts import staff as staff_accounts
from ...accounts.authz import StaffPrincipal
from ...accounts.guardians import Email
from ...accounts.staff import Refused
from ...core import ratelimit
from ...core.i18n import _
from ...core.models import Group, Installation, Organization, Role, StaffUser
from ..context import (
    csrf_form,
    page,
    public_base_url,
    services,
)
from ..limits import parse_id, path_id
from ..sessions import STAFF, end_sessions, require_admin

log = logging.getLogger(__name__)


def role_labels() -> dict[str, str]:
    return {
        Role.ADMIN.value: _("Administrator"),
        Role.RECEPTION.value: _("Reception"),
        Role.EDUCATOR.value: _("Educator"),
    }


def _not_found() -> HTTPException:
    return HTTPException(404, _("Not found, or not yours to see."))


async def org_places(
    session: AsyncSession, organization_id: int
) -> tuple[list[Installation], list[Group]]:
    installations = list(
        (
            await session.execute(
                select(Installation)
                .where(col(Installation.organization_id) == organization_id)
                .order_by(col(Installation.name))
            )
        )
        .scalars()
        .all()
    )
    groups = list(
        (
            await session.execute(
                select(Group)
                .join(Installation, col(Installation.id) == col(Group.installation_id))
                .where(col(Installation.organization_id) == organization_id)
                .order_by(col(Installation.name), col(Group.name))
            )
        )
        .scalars()
        .all()
    )
    return installations, groups


async def staff_page(
    request: Request,
    *,
    invite_values: dict[str, str] | None = None,
    invite_errors: dict[str, str] | None = None,
    row_errors: dict[int, dict[str, str]] | None = None,
    row_values: dict[int, dict[str, str]] | None = None,
) -> Response:
    principal = await require_admin(request)
    svc = services(request)
    async with svc.db.session() as session:
        installations, groups = await org_places(session, principal.organization_id)
        users = list(
            (
                await session.execute(
                    select(StaffUser)
                    .where(col(StaffUser.organization_id) == principal.organization_id)
                    .order_by(col(StaffUser.active).desc(), col(StaffUser.display_name))
                )
            )
            .scalars()
            .all()
        )
        signed_in = await staff_accounts.last_sign_ins(
            session, [u.id for u in users if u.id is not None]
        )
        notice = await _notice(request, session, principal)
        organization = await session.get(Organization, principal.organization_id)
        tz = ZoneInfo(organization.timezone if organization else "America/Toronto")
    has_errors = bool(invite_errors or row_errors)
    return page(
        request,
        "admin/staff.html",
        status_code=400 if has_errors else 200,
        admin_section="staff",
        users=users,
        me=principal.user_id,
        installations=installations,
        groups=groups,
        installation_names={i.id: i.name for i in installations},
        group_names={g.id: g.name for g in groups},
        roles=role_labels(),
        signed_in=signed_in,
        has_password=staff_accounts.has_password,
        tz_info=tz,
        invite_values=invite_values or {},
        invite_errors=invite_errors or {},
        row_errors=row_errors or {},
        row_values=row_values or {},
        notice=notice,
    )


async def _notice(
    request: Request, session: AsyncSession, principal: StaffPrincipal
) -> tuple[str, str] | None:
    """The message the last action left in the query (post/redirect/get): (kind, text)."""
    for key in ("invited", "mail_failed"):
        raw = request.query_params.get(key)
        if not raw:
            continue
        user_id = parse_id(raw)
        user = await session.get(StaffUser, user_id) if user_id is not None else None
        if user is None or user.organization_id != principal.organization_id:
            return None
        if key == "invited":
            return "ok", _("Invitation sent to {email}.").format(email=user.email)
        return "error", _(
            "The account of {email} exists, but the invitation email could not be sent. "
            "Try “Send the invitation again” later."
        ).format(email=user.email)
    return None


def _invite_form_values(form: Any) -> dict[str, str]:
    return {
        key: str(form.get(key, "")).strip()[:300]
        for key in ("email", "name", "role", "installation_id", "home_group_id")
    }


async def staff_home(request: Request) -> Response:
    return await staff_page(request)


async def invite(request: Request) -> Response:
    principal = await require_admin(request)
    form = await csrf_form(request)
    values = _invite_form_values(form)
    svc = services(request)
    async with svc.db.session() as session:
        try:
            user, email = await staff_accounts.invite(
                session,
                principal.organization_id,
                email=values["email"],
                name=values["name"],
                role=values["role"],
                installation_raw=values["installation_id"],
                group_raw=values["home_group_id"],
                base_url=public_base_url(request),
                now=svc.clock.now(),
            )
        except Refused as refused:
            return await staff_page(request, invite_values=values, invite_errors=refused.errors)
        await session.commit()
        user_id = user.id
    return await _send(request, email, user_id)


async def _send(request: Request, email: Email, user_id: int | None) -> Response:
    try:
        await services(request).mailer.send(email.to, email.subject, email.body)
    except Exception:
        log.exception("could not send the staff invitation to %s", email.to)
        return RedirectResponse(f"/admin/staff?mail_failed={user_id}", status_code=303)
    return RedirectResponse(f"/admin/staff?invited={user_id}", status_code=303)


async def _user_of(session: AsyncSession, principal: StaffPrincipal, request: Request) -> StaffUser:
    user = await session.get(StaffUser, path_id(request.path_params, "user_id"))
    if user is None or user.organization_id != principal.organization_id:
        raise _not_found()
    return user


async def change(request: Request) -> Response:
    principal = await require_admin(request)
    form = await csrf_form(request)
    values = {
        key: str(form.get(key, "")).strip()[:50]
        for key in ("role", "installation_id", "home_group_id")
    }
    svc = services(request)
    async with svc.db.session() as session:
        user = await _user_of(session, principal, request)
        assert user.id is not None
        user_id = user.id
        try:
            placement = await staff_accounts.check_placement(
                session,
                principal.organization_id,
                values["role"],
                values["installation_id"],
                values["home_group_id"],
            )
            scope_changed = await staff_accounts.change_placement(session, user, placement)
        except Refused as refused:
            await session.rollback()
            return await staff_page(
                request, row_errors={user_id: refused.errors}, row_values={user_id: values}
            )
        hashes = await staff_accounts.session_hashes(session, user) if scope_changed else []
        await session.commit()
    if hashes:
        # The sessions stay valid, but open boards were opened for the old role or
        # installation: closing their sockets makes them reload with the new one.
        await svc.broker.publish_control({"type": "sessions_ended", "sessions": hashes})
    return RedirectResponse(f"/admin/staff#staff-{user_id}", status_code=303)


async def disable(request: Request) -> Response:
    principal = await require_admin(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        user = await _user_of(session, principal, request)
        assert user.id is not None
        user_id = user.id
        try:
            hashes = await staff_accounts.disable(session, user, by_user_id=principal.user_id)
        except Refused as refused:
            await session.rollback()
            return await staff_page(request, row_errors={user_id: refused.errors})
        await session.commit()
    # Signed out everywhere at once: the sessions go, open boards close.
    if hashes:
        await end_sessions(request, STAFF, user_id, hashes)
    return RedirectResponse(f"/admin/staff#staff-{user_id}", status_code=303)


async def enable(request: Request) -> Response:
    principal = await require_admin(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        user = await _user_of(session, principal, request)
        await staff_accounts.enable(session, user)
        await session.commit()
        user_id = user.id
    return RedirectResponse(f"/admin/staff#staff-{user_id}", status_code=303)


async def resend(request: Request) -> Response:
    principal = await require_admin(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        user = await _user_of(session, principal, request)
        if not user.active or staff_accounts.has_password(user):
            assert user.id is not None
            return await staff_page(
                request,
                row_errors={
                    user.id: {
                        "invite": _(
                            "Only an active account that has not chosen its password yet "
                            "can be invited again."
                        )
                    }
                },
            )
        assert user.id is not None
        refused = await ratelimit.reinvite(
            session, f"staff:{user.id}", f"staff:{principal.user_id}", svc.clock.now()
        )
        if refused is not None:
            await session.commit()
            page_ = await staff_page(
                request,
                row_errors={user.id: {"invite": ratelimit.rate_limited_message(refused)}},
            )
            page_.status_code = 429
            return page_
        email = await staff_accounts.create_invitation(
            session, user, base_url=public_base_url(request), now=svc.clock.now()
        )
        await session.commit()
        user_id = user.id
    return await _send(request, email, user_id)


# -- /staff/set-password/{token} ---------------------------------------------------------------


routes = [
    Route("/admin/staff", staff_home, methods=["GET"]),
    Route("/admin/staff", invite, methods=["POST"]),
    Route("/admin/staff/{user_id}", change, methods=["POST"]),
    Route("/admin/staff/{user_id}/disable", disable, methods=["POST"]),
    Route("/admin/staff/{user_id}/enable", enable, methods=["POST"]),
    Route("/admin/staff/{user_id}/invite", resend, methods=["POST"]),
]
