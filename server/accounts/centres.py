"""Centre accounts (one per installation, signing in to the portal)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import CenterAccount


async def accounts_by_email(session: AsyncSession, email: str) -> list[CenterAccount]:
    """Every centre account with this address (two organizations' may share one)."""
    rows = await session.execute(
        select(CenterAccount)
        .where(func.lower(col(CenterAccount.email)) == email.strip().lower())
        .order_by(col(CenterAccount.id))
    )
    return list(rows.scalars().all())
