"""Fetching one row a request names, for its owner only: anything else (unknown, another
organization's, an id out of range) is the same 404, so nothing tells what exists elsewhere."""

from __future__ import annotations

from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from .limits import not_found


class Owned(Protocol):
    organization_id: int


Row = TypeVar("Row", bound=Owned)


async def owned(session: AsyncSession, model: type[Row], row_id: int, organization_id: int) -> Row:
    """The row `row_id` of `model` if it belongs to `organization_id`; otherwise a 404."""
    row = await session.get(model, row_id)
    if row is None or row.organization_id != organization_id:
        raise not_found()
    return row
