"""Reading accounts. Who a link or a token is: the principals that are not a signed-in session
(a wall display's link, an integration's API token; None when unknown or revoked). And the
director's lists: staff accounts, API tokens, wall displays, guardians' account states."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, case, func, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.collation import person_name, sort_by_name
from ..core.models import ApiToken, Child, ChildGuardian, Display, Guardian, Role, StaffUser
from ..core.security import token_hash
from .authz import ApiPrincipal, DisplayPrincipal


async def display_principal(session: AsyncSession, token: str) -> DisplayPrincipal | None:
    """The wall display whose link carries `token`."""
    query = select(Display).where(col(Display.token_hash) == token_hash(token))
    display = (await session.scalars(query)).one_or_none()
    if display is None or display.revoked_at is not None:
        return None
    assert display.id is not None
    return DisplayPrincipal(
        display.id, display.organization_id, display.installation_id, display.group_id, display.name
    )


_API_TOKEN = cast(Table, inspect(ApiToken).local_table)
_TOKEN_LOOKUP = select(
    _API_TOKEN.c.id,
    _API_TOKEN.c.organization_id,
    _API_TOKEN.c.name,
    _API_TOKEN.c.revoked_at,
    _API_TOKEN.c.last_used_at,
).where(_API_TOKEN.c.token_hash == bindparam("token_hash"))
_RECORD_USE = (
    update(_API_TOKEN)
    .where(_API_TOKEN.c.id == bindparam("token_id"))
    .values(last_used_at=bindparam("at"))
)


def _same_minute(a: datetime, b: datetime) -> bool:
    """Whether two instants read the same on a clock showing minutes (every time zone in use
    is offset by whole minutes, so UTC decides)."""
    return a.astimezone(UTC).replace(second=0, microsecond=0) == b.astimezone(UTC).replace(
        second=0, microsecond=0
    )


def api_principal(conn: Connection, hashed: str, now: datetime) -> ApiPrincipal | None:
    """The API token whose hash is `hashed`, inside the caller's transaction (its last use is
    recorded there)."""
    row = conn.execute(_TOKEN_LOOKUP, {"token_hash": hashed}).first()
    if row is None or row.revoked_at is not None:
        return None
    # The last use is shown to the minute: write it once a minute at most, not per call.
    if row.last_used_at is None or not _same_minute(row.last_used_at, now):
        conn.execute(_RECORD_USE, {"token_id": row.id, "at": now})
    return ApiPrincipal(row.id, row.organization_id, row.name)


# -- the director's lists -------------------------------------------------------------------


async def staff_users(session: AsyncSession, organization_id: int) -> list[StaffUser]:
    """The organization's staff accounts: active ones first, by name."""
    query = (
        select(StaffUser)
        .where(col(StaffUser.organization_id) == organization_id)
        .order_by(col(StaffUser.id))
    )
    by_name = sort_by_name(await session.scalars(query), key=lambda staff: staff.display_name)
    return sorted(by_name, key=lambda staff: not staff.active)


async def api_tokens(session: AsyncSession, organization_id: int) -> list[ApiToken]:
    """The organization's API tokens: those in use first, newest first."""
    query = (
        select(ApiToken)
        .where(col(ApiToken.organization_id) == organization_id)
        .order_by(col(ApiToken.revoked_at).is_not(None), col(ApiToken.created_at).desc())
    )
    return list(await session.scalars(query))


async def wall_displays(session: AsyncSession, organization_id: int) -> list[Display]:
    """The organization's wall displays, newest first."""
    query = (
        select(Display)
        .where(col(Display.organization_id) == organization_id)
        .order_by(col(Display.created_at).desc())
    )
    return list(await session.scalars(query))


_ACTIVE = case((col(Guardian.account_state) == "active", 1), else_=0)


async def guardian_accounts(session: AsyncSession, organization_id: int) -> tuple[int, int]:
    """How many guardians the organization has, and how many have activated their account."""
    query = select(func.count(), func.coalesce(func.sum(_ACTIVE), 0)).where(
        col(Guardian.organization_id) == organization_id, col(Guardian.erased_at).is_(None)
    )
    total, active = (await session.execute(query)).one()
    return int(total), int(active)


async def guardians_to_activate_first(
    session: AsyncSession, organization_id: int, limit: int
) -> list[Guardian]:
    """At most `limit` of the organization's guardians (not erased): those still to activate
    their account first, then by name."""
    query = (
        select(Guardian)
        .where(col(Guardian.organization_id) == organization_id, col(Guardian.erased_at).is_(None))
        .order_by(col(Guardian.id))
    )
    # Sorted here, not in SQL: the database's order is byte-wise (É after Z). An
    # organization's guardians are a few hundred rows.
    by_name = sort_by_name(
        await session.scalars(query), key=lambda g: person_name(g.first_name, g.last_name)
    )
    return sorted(by_name, key=lambda g: g.account_state == "active")[:limit]


# -- a family's people, a centre's parents ----------------------------------------------------


async def guardian_by_email(
    session: AsyncSession, organization_id: int, email: str
) -> Guardian | None:
    """The organization's guardian or authorized person with this address."""
    query = select(Guardian).where(
        col(Guardian.organization_id) == organization_id, col(Guardian.email) == email
    )
    return (await session.scalars(query)).one_or_none()


async def linked_children(session: AsyncSession, guardian_id: int) -> set[int]:
    """The ids of the children a guardian or authorized person is linked to."""
    query = select(col(ChildGuardian.child_id)).where(col(ChildGuardian.guardian_id) == guardian_id)
    return set(await session.scalars(query))


async def authorized_people(session: AsyncSession, child_ids: Iterable[int]) -> list[Guardian]:
    """The adults a parent authorized to pick up any of these children (kind "authorized",
    not revoked), by first name."""
    query = (
        select(Guardian)
        .join(ChildGuardian, col(ChildGuardian.guardian_id) == col(Guardian.id))
        .where(
            col(ChildGuardian.child_id).in_(list(child_ids)),
            col(Guardian.kind) == "authorized",
            col(Guardian.account_state) != "revoked",
        )
        .distinct()
        .order_by(col(Guardian.id))
    )
    return sort_by_name(
        await session.scalars(query), key=lambda g: f"{g.first_name}\t{g.last_name}"
    )


async def parents_by_child(
    session: AsyncSession, installation_id: int
) -> dict[int, list[Guardian]]:
    """The parents (kind "guardian") of each of the installation's children, by name: child
    id → parents. Children without a parent are not keys."""
    query = (
        select(col(ChildGuardian.child_id), Guardian)
        .join(Guardian, col(Guardian.id) == col(ChildGuardian.guardian_id))
        .join(Child, col(Child.id) == col(ChildGuardian.child_id))
        .where(col(Child.installation_id) == installation_id, col(Guardian.kind) == "guardian")
        .order_by(col(Guardian.id))
    )
    rows = sort_by_name(
        await session.execute(query),
        key=lambda row: person_name(row[1].first_name, row[1].last_name),
    )
    found: dict[int, list[Guardian]] = {}
    for child_id, guardian in rows:
        found.setdefault(child_id, []).append(guardian)
    return found


async def director_emails(session: AsyncSession, organization_id: int) -> list[str]:
    """The addresses of the organization's active directors (administrators)."""
    return list(
        await session.scalars(
            select(col(StaffUser.email)).where(
                col(StaffUser.organization_id) == organization_id,
                col(StaffUser.role) == Role.ADMIN,
                col(StaffUser.active).is_(True),
            )
        )
    )
