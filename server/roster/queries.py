"""Reading an organization's structure (installations, groups): one statement each, the same
for the pages, the API and the sync. Every query is bounded by the organization it is given."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from ..core.models import Group, Installation


async def installations(
    session: AsyncSession, organization_id: int, only: int | None = None
) -> list[Installation]:
    """The organization's installations by name; `only`: just that one (if it is theirs)."""
    query = select(Installation).where(col(Installation.organization_id) == organization_id)
    if only is not None:
        query = query.where(col(Installation.id) == only)
    return list(await session.scalars(query.order_by(col(Installation.name), col(Installation.id))))


async def groups(session: AsyncSession, installation_ids: Iterable[int]) -> list[Group]:
    """The groups of these installations, by name."""
    ids = list(installation_ids)
    if not ids:
        return []
    query = select(Group).where(col(Group.installation_id).in_(ids))
    return list(await session.scalars(query.order_by(col(Group.name), col(Group.id))))
