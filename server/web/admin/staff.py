"""/admin/staff: staff accounts (invite, role, installation, home group, disable, re-enable).
The page an invitation link opens (/staff/set-password/{token}) is in web/auth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from ...accounts import queries as accounts
from ...accounts import staff as staff_accounts
from ...accounts.authz import StaffPrincipal
from ...accounts.guardians import Email
from ...accounts.staff import Refused
from ...core import ratelimit
from ...core.i18n import _
from ...core.mail import delivered
from ...core.models import Role, StaffUser
from ...roster import queries as roster
from ..context import public_base_url, services
from ..limits import parse_id
from ..lookups import owned
from ..routing import get, post
from ..sessions import STAFF, end_sessions, require_admin
from .common import admin_form, admin_page, organization_zone, see_other


def role_labels() -> dict[str, str]:
    return {
        Role.ADMIN.value: _("Administrator"),
        Role.RECEPTION.value: _("Reception"),
        Role.EDUCATOR.value: _("Educator"),
    }


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
        installations, groups = await roster.places(session, principal.organization_id)
        users = await accounts.staff_users(session, principal.organization_id)
        signed_in = await staff_accounts.last_sign_ins(
            session, [u.id for u in users if u.id is not None]
        )
        notice = await _notice(request, session, principal)
        zone = await organization_zone(session, principal.organization_id)
    has_errors = bool(invite_errors or row_errors)
    return admin_page(
        request,
        "admin/staff.html",
        "staff",
        status_code=400 if has_errors else 200,
        users=users,
        me=principal.user_id,
        installations=installations,
        groups=groups,
        installation_names={i.id: i.name for i in installations},
        group_names={g.id: g.name for g in groups},
        roles=role_labels(),
        signed_in=signed_in,
        has_password=staff_accounts.has_password,
        tz_info=zone,
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
    principal, form = await admin_form(request)
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
    sent = await delivered(services(request).mailer, email.to, email.subject, email.body)
    return see_other(request, "admin.staff", query={"invited" if sent else "mail_failed": user_id})


@asynccontextmanager
async def _account(
    request: Request, user_id: int
) -> AsyncIterator[tuple[StaffPrincipal, FormData, AsyncSession, StaffUser]]:
    """A director's action on one staff account: the administrator and the form
    (`admin_form`), a database session, and the account (404 when not theirs)."""
    principal, form = await admin_form(request)
    async with services(request).db.session() as session:
        user = await owned(session, StaffUser, user_id, principal.organization_id)
        yield principal, form, session, user


def _to_row(request: Request, user_id: int) -> Response:
    return see_other(request, "admin.staff", fragment=f"staff-{user_id}")


async def change(request: Request) -> Response:
    user_id: int = request.path_params["user_id"]
    async with _account(request, user_id) as (principal, form, session, user):
        values = {
            key: str(form.get(key, "")).strip()[:50]
            for key in ("role", "installation_id", "home_group_id")
        }
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
        await services(request).broker.publish_control(
            {"type": "sessions_ended", "sessions": hashes}
        )
    return _to_row(request, user_id)


async def disable(request: Request) -> Response:
    user_id: int = request.path_params["user_id"]
    async with _account(request, user_id) as (principal, _form, session, user):
        try:
            hashes = await staff_accounts.disable(session, user, by_user_id=principal.user_id)
        except Refused as refused:
            await session.rollback()
            return await staff_page(request, row_errors={user_id: refused.errors})
        await session.commit()
    # Signed out everywhere at once: the sessions go, open boards close.
    if hashes:
        await end_sessions(request, STAFF, user_id, hashes)
    return _to_row(request, user_id)


async def enable(request: Request) -> Response:
    user_id: int = request.path_params["user_id"]
    async with _account(request, user_id) as (_principal, _form, session, user):
        await staff_accounts.enable(session, user)
        await session.commit()
    return _to_row(request, user_id)


async def resend(request: Request) -> Response:
    user_id: int = request.path_params["user_id"]
    svc = services(request)
    async with _account(request, user_id) as (principal, _form, session, user):
        if not user.active or staff_accounts.has_password(user):
            return await staff_page(
                request,
                row_errors={
                    user_id: {
                        "invite": _(
                            "Only an active account that has not chosen its password yet "
                            "can be invited again."
                        )
                    }
                },
            )
        refused = await ratelimit.reinvite(
            session, f"staff:{user_id}", f"staff:{principal.user_id}", svc.clock.now()
        )
        if refused is not None:
            await session.commit()
            page_ = await staff_page(
                request,
                row_errors={user_id: {"invite": ratelimit.rate_limited_message(refused)}},
            )
            page_.status_code = 429
            return page_
        email = await staff_accounts.create_invitation(
            session, user, base_url=public_base_url(request), now=svc.clock.now()
        )
        await session.commit()
    return await _send(request, email, user_id)


routes = [
    get("/admin/staff", staff_home, "admin.staff"),
    post("/admin/staff", invite, "admin.staff_invite"),
    post("/admin/staff/{user_id:id}", change, "admin.staff_change"),
    post("/admin/staff/{user_id:id}/disable", disable, "admin.staff_disable"),
    post("/admin/staff/{user_id:id}/enable", enable, "admin.staff_enable"),
    post("/admin/staff/{user_id:id}/invite", resend, "admin.staff_reinvite"),
]
