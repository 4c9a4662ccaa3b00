"""Server-side sessions, whoever owns them (staff, parents, centre accounts): the cookie holds
a random token, the table its SHA-256 and an expiry. One lookup serves the three."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import delete, select
from sqlmodel import SQLModel, col
from starlette.requests import HTTPConnection

from ..core.models import CenterSession, GuardianSession, StaffSession
from ..core.security import token_hash
from ..services import Services

Owner = TypeVar("Owner", bound=SQLModel)
SessionTable = type[StaffSession] | type[GuardianSession] | type[CenterSession]


async def session_owner(
    conn: HTTPConnection,
    cookie: str,
    table: SessionTable,
    owner_table: type[Owner],
    owner_column: Any,
    usable: Callable[[Owner], bool] = lambda _owner: True,
) -> tuple[str, Owner] | None:
    """The owner of the session in `cookie`, with the session's hash; None when there is no
    such session, it expired, or its owner can no longer sign in (disabled, revoked) — in
    those two cases the row is deleted, so the session ends for good."""
    token = conn.cookies.get(cookie)
    if not token:
        return None
    svc: Services = conn.app.state.services
    hashed = token_hash(token)
    async with svc.db.session() as session:
        row = (
            await session.execute(
                select(table, owner_table)
                .join(owner_table, col(owner_table.id) == owner_column)  # type: ignore[attr-defined]
                .where(col(table.token_hash) == hashed)
            )
        ).first()
        if row is None:
            return None
        found: StaffSession | GuardianSession | CenterSession = row[0]  # type: ignore[assignment]
        owner: Owner = row[1]
        if found.expires_at <= svc.clock.now() or not usable(owner):
            await session.execute(delete(table).where(col(table.token_hash) == hashed))
            await session.commit()
            return None
        return hashed, owner
