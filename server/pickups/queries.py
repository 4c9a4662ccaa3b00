"""Reading pickups for the pages and the API: one statement each, bounded by the installation
or organization it is given. The lifecycle's own reads, inside a write, are in `writes`."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.collation import sort_by_name
from ..core.models import (
    Child,
    ChildGuardian,
    Group,
    Guardian,
    Installation,
    Pickup,
    PickupEvent,
)
from . import reports
from .rules import local_day
from .writes import CHILD, GROUP, GUARDIAN, INSTALLATION, PICKUP


async def pickups_today(
    session: AsyncSession,
    installations: Iterable[Installation],
    now: datetime,
    status: str | None = None,
) -> list[Pickup]:
    """Today's pickups (each installation's own day) of these installations, in their order
    and by id; `status`: only those in it."""
    found: list[Pickup] = []
    for installation in installations:
        query = select(Pickup).where(
            col(Pickup.installation_id) == installation.id,
            col(Pickup.day) == local_day(now, installation.timezone),
        )
        if status:
            query = query.where(col(Pickup.status) == status)
        found += await session.scalars(query.order_by(col(Pickup.id)))
    return found


class ExternalIds(NamedTuple):
    """A pickup's child, guardian, installation and group by the management system's ids,
    and when the pickup was created and last changed."""

    child: str
    guardian: str
    installation: str
    group: str
    created_at: datetime
    updated_at: datetime


_EXTERNAL_IDS = (
    select(
        CHILD.c.external_id,
        GUARDIAN.c.external_id,
        INSTALLATION.c.external_id,
        GROUP.c.external_id,
        PICKUP.c.created_at,
        PICKUP.c.updated_at,
    )
    .select_from(PICKUP)
    .join(CHILD, CHILD.c.id == PICKUP.c.child_id)
    .join(GROUP, GROUP.c.id == CHILD.c.group_id)
    .join(GUARDIAN, GUARDIAN.c.id == PICKUP.c.guardian_id)
    .join(INSTALLATION, INSTALLATION.c.id == PICKUP.c.installation_id)
    .where(PICKUP.c.id == bindparam("pickup_id"))
)


def external_ids(conn: Connection, pickup_id: int) -> ExternalIds:
    """What the API shows of a pickup by external ids, inside the caller's transaction."""
    return ExternalIds(*conn.execute(_EXTERNAL_IDS, {"pickup_id": pickup_id}).one())


# The child and guardian an announcement names, by external id, in one organization.
_ANNOUNCED = select(
    select(CHILD.c.id)
    .where(
        CHILD.c.organization_id == bindparam("organization_id"),
        CHILD.c.external_id == bindparam("child"),
    )
    .scalar_subquery(),
    select(GUARDIAN.c.id)
    .where(
        GUARDIAN.c.organization_id == bindparam("organization_id"),
        GUARDIAN.c.external_id == bindparam("guardian"),
    )
    .scalar_subquery(),
)


def announced_ids(
    conn: Connection, organization_id: int, child: str, guardian: str
) -> tuple[int | None, int | None]:
    """The internal ids of the child and guardian named by external ids (None: unknown in
    this organization), in one statement inside the caller's transaction."""
    child_id, guardian_id = conn.execute(
        _ANNOUNCED, {"organization_id": organization_id, "child": child, "guardian": guardian}
    ).one()
    return child_id, guardian_id


# -- the release log and the reports (the director's pages) ---------------------------------

# One pickup of the release log, with its child, the child's group, its installation and the
# guardian who came.
LogLine = tuple[Pickup, Child, Group, Installation, Guardian]


def folded(text: str) -> str:
    """Case- and accent-insensitive: "lea" finds "Léa"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


async def release_log(
    session: AsyncSession,
    organization_id: int,
    *,
    start: date,
    end: date,
    installation_id: int | None = None,
    group_id: int | None = None,
    child: str = "",
    limit: int | None = None,
    offset: int = 0,
) -> tuple[int, list[LogLine]]:
    """The organization's pickups from `start` to `end` (installation days), newest first:
    how many match in all, and the `limit` of them from `offset`. `child`: part of the
    child's name, in any case and with or without accents."""
    query = (
        select(Pickup, Child, Group, Installation, Guardian)
        .join(Child, col(Child.id) == col(Pickup.child_id))
        .join(Group, col(Group.id) == col(Child.group_id))
        .join(Installation, col(Installation.id) == col(Pickup.installation_id))
        .join(Guardian, col(Guardian.id) == col(Pickup.guardian_id))
        .where(
            col(Pickup.organization_id) == organization_id,
            col(Pickup.day) >= start,
            col(Pickup.day) <= end,
        )
    )
    if installation_id is not None:
        query = query.where(col(Pickup.installation_id) == installation_id)
    if group_id is not None:
        query = query.where(col(Child.group_id) == group_id)
    if child:
        wanted = folded(child)
        names = await session.execute(
            select(col(Child.id), col(Child.first_name), col(Child.last_name)).where(
                col(Child.organization_id) == organization_id
            )
        )
        ids = [cid for cid, first, last in names if wanted in folded(f"{first} {last}")]
        if not ids:
            return 0, []
        query = query.where(col(Pickup.child_id).in_(ids))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    ordered = query.order_by(
        col(Pickup.day).desc(), col(Pickup.created_at).desc(), col(Pickup.id).desc()
    )
    if limit is not None:
        ordered = ordered.limit(limit).offset(offset)
    lines = [(p, c, g, i, gu) for p, c, g, i, gu in await session.execute(ordered)]
    return int(total or 0), lines


async def pickup_events(session: AsyncSession, pickup_ids: Iterable[int]) -> list[PickupEvent]:
    """Every event of these pickups, in the order they happened."""
    ids = list(pickup_ids)
    if not ids:
        return []
    query = (
        select(PickupEvent)
        .where(col(PickupEvent.pickup_id).in_(ids))
        .order_by(col(PickupEvent.at), col(PickupEvent.id))
    )
    return list(await session.scalars(query))


async def step_events(
    session: AsyncSession,
    organization_id: int,
    installation_ids: Iterable[int],
    start: date,
    end: date,
) -> list[tuple[int, reports.EventRow]]:
    """The measured steps (announced, called, ready, departed) of these installations'
    pickups from `start` to `end`, each with the group of its child."""
    query = (
        select(
            col(Child.group_id),
            col(PickupEvent.pickup_id),
            col(PickupEvent.to_status),
            col(PickupEvent.at),
        )
        .join(Pickup, col(Pickup.id) == col(PickupEvent.pickup_id))
        .join(Child, col(Child.id) == col(Pickup.child_id))
        .where(
            col(Pickup.organization_id) == organization_id,
            col(Pickup.installation_id).in_(list(installation_ids)),
            col(Pickup.day) >= start,
            col(Pickup.day) <= end,
            col(PickupEvent.to_status).in_(
                [reports.ANNOUNCED, reports.CALLED, reports.READY, reports.DEPARTED]
            ),
        )
    )
    return [
        (int(group_id), reports.EventRow(int(pickup_id), str(to_status), at))
        for group_id, pickup_id, to_status, at in await session.execute(query)
    ]


async def family_adults(session: AsyncSession, child_id: int) -> list[Guardian]:
    """The adults a child may be handed to: its guardians and authorized persons, by name."""
    rows = await session.execute(
        select(Guardian)
        .join(ChildGuardian, col(ChildGuardian.guardian_id) == col(Guardian.id))
        .where(col(ChildGuardian.child_id) == child_id)
        .order_by(col(Guardian.id))
    )
    # By given name: how the staff handing a child over call the adults.
    return sort_by_name(rows.scalars().all(), key=lambda g: f"{g.first_name}\t{g.last_name}")
