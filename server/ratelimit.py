"""Rate limits on sign-in, one-time link requests and announcements.

Each counted attempt is a `RateEvent` row, so every worker (and every host on PostgreSQL) sees
the same counts; a sliding window over those rows decides. Rows older than the window are
deleted as the same key is counted again, and now and then every stale row goes.

Two workers counting the same key at the same instant can let one attempt past the limit:
acceptable for a limit whose job is to make guessing slow, not to count exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .i18n import ngettext
from .models import RateEvent
from .security import token_hash


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta


# Sign-in: failed attempts, per email and per address (a phone or a whole NAT).
SIGN_IN_LIMIT = Limit(10, timedelta(minutes=15))
# "Send me a link" (activation again, forgotten password): per email, then per address.
LINK_EMAIL_LIMIT = Limit(5, timedelta(hours=1))
LINK_IP_LIMIT = Limit(20, timedelta(hours=1))
# Announcements (create, change the time, cancel…), per guardian.
ANNOUNCE_LIMIT = Limit(20, timedelta(minutes=10))

# Nothing counts for longer than the longest window: older rows can go, whatever their key.
LONGEST_WINDOW = max(
    limit.window for limit in (SIGN_IN_LIMIT, LINK_EMAIL_LIMIT, LINK_IP_LIMIT, ANNOUNCE_LIMIT)
)
# One counted attempt in this many also sweeps every stale row of every key.
SWEEP_ONE_IN = 100


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    # Whole minutes before the next attempt is allowed again (0 when allowed).
    retry_after: int = 0


class RateLimited(Exception):
    """Too many attempts: show `rate_limited_message(exc)`, change nothing."""

    def __init__(self, retry_after_minutes: int) -> None:
        super().__init__(f"rate limited; retry after {retry_after_minutes} min")
        self.retry_after_minutes = retry_after_minutes


def rate_limited_message(exc: RateLimited | RateDecision) -> str:
    """The plain-words refusal: "Trop de tentatives. Réessayez dans 12 minutes." """
    minutes = exc.retry_after_minutes if isinstance(exc, RateLimited) else exc.retry_after
    minutes = max(1, minutes)
    return ngettext(
        "Too many attempts. Try again in {n} minute.",
        "Too many attempts. Try again in {n} minutes.",
        minutes,
    ).format(n=minutes)


def email_key(prefix: str, email: str) -> str:
    """A key for an email address that does not store the address itself."""
    return f"{prefix}:email:{token_hash(email.strip().lower())[:40]}"


def ip_key(prefix: str, address: str) -> str:
    return f"{prefix}:ip:{address[:150]}"


async def peek(
    session: AsyncSession, key: str, limit: int, window: timedelta, now: datetime
) -> RateDecision:
    """Would one more attempt be allowed? Counts nothing."""
    recent = (
        (
            await session.execute(
                select(col(RateEvent.at))
                .where(col(RateEvent.key) == key, col(RateEvent.at) > now - window)
                .order_by(col(RateEvent.at).desc())
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    if len(recent) < limit:
        return RateDecision(True)
    # One more attempt is allowed once the limit-th most recent one has left the window.
    wait = recent[limit - 1] + window - now
    return RateDecision(False, max(1, math.ceil(wait.total_seconds() / 60)))


async def record(session: AsyncSession, key: str, window: timedelta, now: datetime) -> None:
    """Count one attempt (the caller commits) and drop this key's rows the window forgot."""
    session.add(RateEvent(key=key, at=now))
    await session.execute(
        delete(RateEvent).where(col(RateEvent.key) == key, col(RateEvent.at) <= now - window)
    )
    if random.randrange(SWEEP_ONE_IN) == 0:
        await purge(session, now)


async def purge(session: AsyncSession, now: datetime) -> None:
    """Delete every row older than the longest window (whatever its key)."""
    await session.execute(delete(RateEvent).where(col(RateEvent.at) <= now - LONGEST_WINDOW))


async def hit(
    session: AsyncSession, key: str, limit: int, window: timedelta, now: datetime
) -> RateDecision:
    """Count one attempt for `key` unless `limit` attempts already happened within `window`.

    A refused attempt is not counted, so retrying while refused does not push the wait back.
    The caller commits (the new row is in `session`).
    """
    decision = await peek(session, key, limit, window, now)
    if decision.allowed:
        await record(session, key, window, now)
    return decision


async def check_announce(session: AsyncSession, guardian_id: int, now: datetime) -> None:
    """Count one announcement (or change of one) by this guardian; raise `RateLimited` when
    there were too many lately. Call it in the announcing transaction, before changing
    anything, and commit with the announcement."""
    key = f"announce:guardian:{guardian_id}"
    decision = await hit(session, key, ANNOUNCE_LIMIT.count, ANNOUNCE_LIMIT.window, now)
    if not decision.allowed:
        raise RateLimited(decision.retry_after)
