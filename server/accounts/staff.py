"""Staff accounts: invitations with a one-time link, role and place changes, disabling.

Rules, in one place so every page applies the same ones:
- an email belongs to one staff account per organization (case-insensitive); another
  organization may have its own account with the same address, and nothing here tells an
  organization whether another one has it;
- reception and educators belong to one installation of the organization; educators also to
  one home group of that installation; admins to none (they see every installation);
- an admin cannot disable themself, and the organization always keeps one active admin.

Functions that create a link return the `Email` to send: the caller commits, then sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from ..core.i18n import _
from ..core.models import (
    AccountKind,
    Group,
    Installation,
    OneTimeLink,
    Organization,
    Role,
    SignInSession,
    StaffUser,
)
from ..core.security import hash_password
from ..core.templating import render
from . import one_time_links
from .guardians import Email, normalize_email
from .one_time_links import LinkProblem, LinkRefused

INVITE = "invite"
INVITE_LIFETIME = timedelta(days=7)
SET_PASSWORD_PATH = "/staff/set-password/"
# An invited account has no password until its link is used: this never verifies (not argon2).
UNUSABLE_PASSWORD = "!invited"


@dataclass
class Placement:
    """A role and where it applies, checked against the organization."""

    role: Role
    installation_id: int | None
    home_group_id: int | None


class Refused(Exception):
    """Field name → message, shown next to each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ValidStaffLink:
    token: OneTimeLink
    user: StaffUser
    organization: Organization


def staff_link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{SET_PASSWORD_PATH}{token}"


def _int_or_none(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        return -1  # present but not a number: refused like a foreign id


async def check_placement(
    session: AsyncSession,
    organization_id: int,
    role: str,
    installation_raw: str,
    group_raw: str,
) -> Placement:
    """The role, installation and home group a form asked for, or `Refused` naming each bad
    field. Ids that are not the organization's are refused like mistyped ones."""
    errors: dict[str, str] = {}
    try:
        chosen_role = Role(role.strip())
    except ValueError:
        raise Refused({"role": _("Choose a role: administrator, reception or educator.")}) from None
    if chosen_role == Role.ADMIN:
        return Placement(chosen_role, None, None)
    installation_id = _int_or_none(installation_raw)
    installation = (
        await session.get(Installation, installation_id) if installation_id is not None else None
    )
    if installation is None or installation.organization_id != organization_id:
        errors["installation_id"] = _(
            "Reception and educators belong to one installation: choose one of yours."
        )
        raise Refused(errors)
    if chosen_role == Role.RECEPTION:
        return Placement(chosen_role, installation.id, None)
    group_id = _int_or_none(group_raw)
    group = await session.get(Group, group_id) if group_id is not None else None
    if group is None or group.installation_id != installation.id:
        errors["home_group_id"] = _("Choose the educator's home group, in that installation.")
        raise Refused(errors)
    return Placement(chosen_role, installation.id, group.id)


async def email_taken(
    session: AsyncSession, organization_id: int, email: str, *, except_id: int | None = None
) -> bool:
    """Whether the organization already has a staff account with this address (only this
    organization: asking must not tell whether another one has it)."""
    query = (
        select(func.count())
        .select_from(StaffUser)
        .where(
            col(StaffUser.organization_id) == organization_id,
            func.lower(col(StaffUser.email)) == normalize_email(email),
        )
    )
    if except_id is not None:
        query = query.where(col(StaffUser.id) != except_id)
    return int((await session.execute(query)).scalar_one()) > 0


async def users_by_email(session: AsyncSession, email: str) -> list[StaffUser]:
    """Every staff account with this address, in any organization (for signing in)."""
    address = normalize_email(email)
    if not address:
        return []
    rows = await session.execute(
        select(StaffUser)
        .where(func.lower(col(StaffUser.email)) == address)
        .order_by(col(StaffUser.id))
    )
    return list(rows.scalars().all())


def _email_problem(email: str) -> str | None:
    local, _at, domain = email.partition("@")
    if not local or "." not in domain or len(email) > 254 or any(c.isspace() for c in email):
        return _("Enter a valid email address, e.g. name@example.org.")
    return None


async def invite(
    session: AsyncSession,
    organization_id: int,
    *,
    email: str,
    name: str,
    role: str,
    installation_raw: str,
    group_raw: str,
    base_url: str,
    now: datetime,
) -> tuple[StaffUser, Email]:
    """Create the account (no usable password) and its invitation link. The caller commits,
    then sends the email. Raises `Refused` with a message per bad field."""
    errors: dict[str, str] = {}
    address = normalize_email(email)
    display_name = name.strip()
    problem = _email_problem(address)
    if problem:
        errors["email"] = problem
    elif await email_taken(session, organization_id, address):
        errors["email"] = _("A staff account already uses this email address.")
    if not display_name:
        errors["name"] = _("Enter the person's name, as colleagues know them.")
    elif len(display_name) > 200:
        errors["name"] = _("That name is too long: 200 characters at most.")
    placement: Placement | None = None
    try:
        placement = await check_placement(
            session, organization_id, role, installation_raw, group_raw
        )
    except Refused as refused:
        errors.update(refused.errors)
    if errors or placement is None:
        raise Refused(errors)
    user = StaffUser(
        organization_id=organization_id,
        email=address,
        display_name=display_name,
        password_hash=UNUSABLE_PASSWORD,
        role=placement.role,
        installation_id=placement.installation_id,
        home_group_id=placement.home_group_id,
        active=True,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user, await create_invitation(session, user, base_url=base_url, now=now)


async def create_invitation(
    session: AsyncSession, user: StaffUser, *, base_url: str, now: datetime
) -> Email:
    """A fresh invitation link (older unused ones stop working) and its email."""
    assert user.id is not None
    token = await one_time_links.issue(
        session, AccountKind.STAFF, user.id, INVITE, INVITE_LIFETIME, now
    )
    organization = await session.get(Organization, user.organization_id)
    body = render(
        "email/staff_invitation.txt",
        name=user.display_name,
        organization=organization.name if organization is not None else "Relais",
        link=staff_link_url(base_url, token),
        days=INVITE_LIFETIME.days,
    )
    subject = "Relais — Votre compte d’équipe / Your staff account"
    return Email(user.email, subject, body)


def has_password(user: StaffUser) -> bool:
    return user.password_hash != UNUSABLE_PASSWORD


# -- using the link ---------------------------------------------------------------------------


async def open_link(
    session: AsyncSession, token: str, now: datetime
) -> ValidStaffLink | LinkProblem:
    link = await one_time_links.find(session, AccountKind.STAFF, token, INVITE, now)
    if isinstance(link, LinkProblem):
        return link
    user = await session.get(StaffUser, link.account_id)
    organization = await session.get(Organization, user.organization_id) if user else None
    if user is None or organization is None:
        return LinkProblem.UNKNOWN
    if not user.active:
        return LinkProblem.EXPIRED
    return ValidStaffLink(link, user, organization)


async def use_link(
    session: AsyncSession, link: ValidStaffLink, password: str, now: datetime
) -> StaffUser:
    """Spend the link and set the password; every other link of the account stops working.
    Raises `LinkRefused` when the link was spent meanwhile (two tabs). The caller commits."""
    assert link.user.id is not None
    if not await one_time_links.spend(session, link.token, now):
        raise LinkRefused(LinkProblem.USED)
    user = await session.get(StaffUser, link.user.id)
    assert user is not None
    user.password_hash = await run_in_threadpool(hash_password, password)
    session.add(user)
    return user


# -- changing and disabling -------------------------------------------------------------------


async def _other_active_admins(session: AsyncSession, user: StaffUser) -> int:
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(StaffUser)
                .where(
                    col(StaffUser.organization_id) == user.organization_id,
                    col(StaffUser.role) == Role.ADMIN.value,
                    col(StaffUser.active).is_(True),
                    col(StaffUser.id) != user.id,
                )
            )
        ).scalar_one()
    )


async def change_placement(session: AsyncSession, user: StaffUser, placement: Placement) -> bool:
    """Apply a new role/installation/home group; the last active admin stays an admin.
    True when what the person may see changed (role or installation): open boards were
    authorized for the old scope and must reconnect."""
    if (
        user.role == Role.ADMIN
        and placement.role != Role.ADMIN
        and user.active
        and await _other_active_admins(session, user) == 0
    ):
        raise Refused(
            {"role": _("This is the last active administrator: make someone else one first.")}
        )
    scope_changed = (user.role, user.installation_id) != (
        placement.role.value,
        placement.installation_id,
    )
    user.role = placement.role
    user.installation_id = placement.installation_id
    user.home_group_id = placement.home_group_id
    session.add(user)
    return scope_changed


async def disable(session: AsyncSession, user: StaffUser, *, by_user_id: int) -> list[str]:
    """Disable the account; returns the hashes of its sessions, which the caller ends (with
    `web.sessions.end_sessions`, closing open boards) after committing."""
    if user.id == by_user_id:
        raise Refused({"active": _("You cannot disable your own account.")})
    if user.role == Role.ADMIN and await _other_active_admins(session, user) == 0:
        raise Refused({"active": _("This is the last active administrator.")})
    user.active = False
    session.add(user)
    return await session_hashes(session, user)


async def session_hashes(session: AsyncSession, user: StaffUser) -> list[str]:
    hashes = (
        await session.execute(
            select(col(SignInSession.token_hash)).where(
                col(SignInSession.kind) == AccountKind.STAFF,
                col(SignInSession.account_id) == user.id,
            )
        )
    ).scalars()
    return list(hashes)


async def enable(session: AsyncSession, user: StaffUser) -> None:
    user.active = True
    session.add(user)


async def last_sign_ins(session: AsyncSession, user_ids: list[int]) -> dict[int, datetime]:
    """The start of each account's latest session still on record (signing out deletes it)."""
    if not user_ids:
        return {}
    rows = await session.execute(
        select(col(SignInSession.account_id), func.max(col(SignInSession.created_at)))
        .where(
            col(SignInSession.kind) == AccountKind.STAFF,
            col(SignInSession.account_id).in_(user_ids),
        )
        .group_by(col(SignInSession.account_id))
    )
    return {user_id: at for user_id, at in rows.all() if at is not None}
