"""Reading an organization's structure (installations, groups): one statement each, the same
for the pages, the API and the sync. Every query is bounded by the organization it is given."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..accounts.authz import StaffPrincipal
from ..core.collation import person_name, sort_by_name
from ..core.models import Child, ChildGuardian, Group, Guardian, Installation


async def installations(
    session: AsyncSession, organization_id: int, only: int | None = None
) -> list[Installation]:
    """The organization's installations by name; `only`: just that one (if it is theirs)."""
    query = select(Installation).where(col(Installation.organization_id) == organization_id)
    if only is not None:
        query = query.where(col(Installation.id) == only)
    found = await session.scalars(query.order_by(col(Installation.id)))
    return sort_by_name(found, key=lambda installation: installation.name)


async def groups(session: AsyncSession, installation_ids: Iterable[int]) -> list[Group]:
    """The groups of these installations, by name."""
    ids = list(installation_ids)
    if not ids:
        return []
    query = select(Group).where(col(Group.installation_id).in_(ids))
    found = await session.scalars(query.order_by(col(Group.id)))
    return sort_by_name(found, key=lambda group: group.name)


async def visible_installations(
    session: AsyncSession, principal: StaffPrincipal
) -> list[Installation]:
    """The installations a staff member sees, by name: a director every one of the
    organization's, the others their own."""
    if principal.is_admin:
        return await installations(session, principal.organization_id)
    if principal.installation_id is None:
        return []
    return await installations(session, principal.organization_id, only=principal.installation_id)


# The rows the management system names by its own ids, unique in an organization.
External = TypeVar("External", Child, Guardian, Installation)


async def by_external_id(
    session: AsyncSession, model: type[External], organization_id: int, external_id: str
) -> External | None:
    """The organization's child, guardian or installation the management system calls
    `external_id`."""
    query = select(model).where(
        col(model.organization_id) == organization_id, col(model.external_id) == external_id
    )
    return (await session.scalars(query)).one_or_none()


async def child_and_installation(
    session: AsyncSession, organization_id: int, external_id: str
) -> tuple[Child, Installation] | None:
    """The child (as `by_external_id`) and its installation, in one read."""
    query = (
        select(Child, Installation)
        .join(Installation, col(Installation.id) == col(Child.installation_id))
        .where(col(Child.organization_id) == organization_id, col(Child.external_id) == external_id)
    )
    row = (await session.execute(query)).one_or_none()
    return None if row is None else (row[0], row[1])


async def group_by_external_id(
    session: AsyncSession, installation_id: int, external_id: str
) -> Group | None:
    """The installation's group the management system calls `external_id`."""
    query = select(Group).where(
        col(Group.installation_id) == installation_id, col(Group.external_id) == external_id
    )
    return (await session.scalars(query)).one_or_none()


async def active_children(
    session: AsyncSession, organization_id: int, installation_id: int | None = None
) -> list[tuple[Child, Installation, Group]]:
    """The organization's active children (or one installation's), with their installation
    and group, by name."""
    query = (
        select(Child, Installation, Group)
        .join(Installation, col(Installation.id) == col(Child.installation_id))
        .join(Group, col(Group.id) == col(Child.group_id))
        .where(col(Child.organization_id) == organization_id, col(Child.active).is_(True))
        .order_by(col(Child.id))
    )
    if installation_id is not None:
        query = query.where(col(Child.installation_id) == installation_id)
    rows = [(child, inst, group) for child, inst, group in await session.execute(query)]
    return sort_by_name(rows, key=lambda row: person_name(row[0].first_name, row[0].last_name))


async def guardian_external_ids(
    session: AsyncSession, organization_id: int
) -> dict[int, list[str]]:
    """Each child's guardians by external id (child id → ids, in no particular order)."""
    query = (
        select(col(ChildGuardian.child_id), col(Guardian.external_id))
        .join(Guardian, col(Guardian.id) == col(ChildGuardian.guardian_id))
        .where(col(Guardian.organization_id) == organization_id)
    )
    found: dict[int, list[str]] = {}
    for child_id, external_id in await session.execute(query):
        found.setdefault(child_id, []).append(external_id)
    return found


async def places(
    session: AsyncSession, organization_id: int
) -> tuple[list[Installation], list[Group]]:
    """The organization's installations by name, and their groups in that order (each
    installation's by name): the lists a form offers to choose a place from."""
    found = await installations(session, organization_id)
    position = {installation.id: n for n, installation in enumerate(found)}
    ids = [installation.id for installation in found if installation.id is not None]
    in_order = sorted(await groups(session, ids), key=lambda g: position[g.installation_id])
    return found, in_order


async def pickup_children(session: AsyncSession, installation_id: int) -> list[Child]:
    """The installation's active children enabled for pickup alerts (those the parent side
    shows), by name."""
    query = select(Child).where(
        col(Child.installation_id) == installation_id,
        col(Child.active).is_(True),
        col(Child.pickup_enabled).is_(True),
    )
    found = await session.scalars(query.order_by(col(Child.id)))
    return sort_by_name(found, key=lambda child: person_name(child.first_name, child.last_name))


async def active_children_count(session: AsyncSession, organization_id: int) -> int:
    """How many active children the organization has (the director's summary)."""
    query = (
        select(func.count())
        .select_from(Child)
        .where(col(Child.organization_id) == organization_id, col(Child.active).is_(True))
    )
    return int((await session.execute(query)).scalar_one())
