"""One-time links, whoever they are for (a parent's activation or reset, a staff invitation):
issuing one (older ones of the same purpose stop working), reading one back, spending it
exactly once. The email carries a random token; the table keeps only its SHA-256."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import AccountKind, OneTimeLink
from ..core.security import new_token, token_hash


class LinkProblem(StrEnum):
    UNKNOWN = "unknown"  # never issued, mistyped, or cut short by a mail program
    EXPIRED = "expired"  # too old, or replaced by a newer link
    USED = "used"


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _live(now: datetime) -> tuple[object, ...]:
    return (col(OneTimeLink.used_at).is_(None), col(OneTimeLink.expires_at) > now)


async def issue(
    session: AsyncSession,
    kind: AccountKind,
    account_id: int,
    purpose: str,
    lifetime: timedelta,
    now: datetime,
) -> str:
    """A fresh link's token; the account's unused older links of this purpose stop working.
    The caller commits (before sending the email: the link must exist when it is clicked)."""
    await session.execute(
        update(OneTimeLink)
        .where(
            col(OneTimeLink.kind) == kind,
            col(OneTimeLink.account_id) == account_id,
            col(OneTimeLink.purpose) == purpose,
            *_live(now),  # type: ignore[arg-type]
        )
        .values(expires_at=now)
    )
    token = new_token()
    session.add(
        OneTimeLink(
            kind=kind,
            account_id=account_id,
            purpose=purpose,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    await session.flush()
    return token


async def find(
    session: AsyncSession, kind: AccountKind, token: str, purpose: str, now: datetime
) -> OneTimeLink | LinkProblem:
    """The link behind `token`, or why it does not work (any more)."""
    if not token or len(token) > 200:
        return LinkProblem.UNKNOWN
    link = (
        await session.execute(
            select(OneTimeLink).where(
                col(OneTimeLink.token_hash) == token_hash(token),
                col(OneTimeLink.kind) == kind,
                col(OneTimeLink.purpose) == purpose,
            )
        )
    ).scalar_one_or_none()
    if link is None:
        return LinkProblem.UNKNOWN
    if link.used_at is not None:
        return LinkProblem.USED
    if link.expires_at <= now:
        return LinkProblem.EXPIRED
    return link


async def spend(session: AsyncSession, link: OneTimeLink, now: datetime) -> bool:
    """Mark the link used if nobody did first (compare-and-set: two taps, two tabs), then
    void the account's other live links. False when it was already spent or had expired.
    The caller commits."""
    spent = await session.execute(
        update(OneTimeLink)
        .where(col(OneTimeLink.id) == link.id, *_live(now))  # type: ignore[arg-type]
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(OneTimeLink)
        .where(
            col(OneTimeLink.kind) == link.kind,
            col(OneTimeLink.account_id) == link.account_id,
            *_live(now),  # type: ignore[arg-type]
        )
        .values(expires_at=now)
    )
    return True


async def last_issued(
    session: AsyncSession, kind: AccountKind, account_ids: Sequence[int | None], purpose: str
) -> dict[int, datetime]:
    """When each account's latest link of this purpose was issued (e.g. the last invitation)."""
    if not account_ids:
        return {}
    rows = await session.execute(
        select(col(OneTimeLink.account_id), func.max(col(OneTimeLink.created_at)))
        .where(
            col(OneTimeLink.kind) == kind,
            col(OneTimeLink.account_id).in_(account_ids),
            col(OneTimeLink.purpose) == purpose,
        )
        .group_by(col(OneTimeLink.account_id))
    )
    return {account_id: at for account_id, at in rows.all() if at is not None}
