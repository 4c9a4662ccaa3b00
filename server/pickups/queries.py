"""Reading pickups for the pages and the API: one statement each, bounded by the installation
or organization it is given. The lifecycle's own reads, inside a write, are in `writes`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import Installation, Pickup
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
