"""The sign-in session store: one table (`SignInSession`) for staff, parents and centre
accounts, holding a token's SHA-256 (never the token), its kind, its account and its expiry.
The cookies and the HTTP side are in `server/web/sessions.py`; the caller commits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from ..core.models import AccountKind, SignInSession


async def find(
    session: AsyncSession, hashed: str, kind: AccountKind, account: type[SQLModel]
) -> tuple[SignInSession, Any] | None:
    """The session with this token hash, of this kind, and its account row."""
    row = (
        await session.execute(
            select(SignInSession, account)
            .join(account, col(account.id) == col(SignInSession.account_id))  # type: ignore[attr-defined]
            .where(col(SignInSession.token_hash) == hashed, col(SignInSession.kind) == kind)
        )
    ).first()
    return None if row is None else (row[0], row[1])


def add(
    session: AsyncSession,
    hashed: str,
    kind: AccountKind,
    account_id: int,
    *,
    now: datetime,
    lifetime: timedelta,
    user_agent: str,
) -> None:
    session.add(
        SignInSession(
            token_hash=hashed,
            kind=kind,
            account_id=account_id,
            created_at=now,
            expires_at=now + lifetime,
            user_agent=user_agent[:300],
        )
    )


async def forget(session: AsyncSession, hashed: str) -> None:
    """One session ends (expired, or its account may no longer sign in)."""
    await session.execute(delete(SignInSession).where(col(SignInSession.token_hash) == hashed))


async def end(
    session: AsyncSession,
    kind: AccountKind,
    account_id: int,
    hashes: Collection[str] | None = None,
    *,
    keep: str | None = None,
) -> list[str]:
    """End the account's sessions (those in `hashes`, or all but `keep`); the hashes ended."""
    query = select(col(SignInSession.token_hash)).where(
        col(SignInSession.kind) == kind, col(SignInSession.account_id) == account_id
    )
    if hashes is not None:
        query = query.where(col(SignInSession.token_hash).in_(hashes))
    if keep is not None:
        query = query.where(col(SignInSession.token_hash) != keep)
    ended = list(await session.scalars(query))
    if ended:
        await session.execute(delete(SignInSession).where(col(SignInSession.token_hash).in_(ended)))
    return ended
