"""Rate limits on sign-in, one-time link requests, invitations and announcements.

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

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .i18n import ngettext
from .models import RateEvent
from .security import token_hash


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta


@dataclass(frozen=True)
class Backoff:
    """Growing delays: `free` failures cost nothing, then each one more doubles the wait
    before the next attempt, from `first` up to `cap` (never more: a person is slowed, never
    locked out). Failures older than `memory` are forgotten."""

    free: int
    first: timedelta
    cap: timedelta
    memory: timedelta

    def wait_after(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        doublings: int = min(failures - self.free, 20)
        return min(self.cap, self.first * (1 << doublings))


# Sign-in (staff, parents, centre accounts): failures per account typed, from a browser that
# never signed in to it; per network address (a phone, or a whole daycare behind one NAT);
# and per browser that did sign in to it before (see `web.signin`).
SIGN_IN_ACCOUNT = Backoff(5, timedelta(minutes=1), timedelta(minutes=15), timedelta(hours=24))
SIGN_IN_ADDRESS = Backoff(20, timedelta(minutes=1), timedelta(minutes=15), timedelta(hours=24))
SIGN_IN_DEVICE = Backoff(5, timedelta(minutes=1), timedelta(minutes=15), timedelta(hours=24))
# "Send me a link" (activation again, forgotten password): per email, then per address.
LINK_EMAIL_LIMIT = Limit(5, timedelta(hours=1))
LINK_IP_LIMIT = Limit(20, timedelta(hours=1))
# Announcements (create, change the time, cancel…), per guardian.
ANNOUNCE_LIMIT = Limit(20, timedelta(minutes=10))
# Invitations sent again by hand (/admin, the portal), per person invited, then per sender.
REINVITE_LIMIT = Limit(3, timedelta(hours=1))
REINVITE_SENDER_LIMIT = Limit(30, timedelta(hours=1))

# Nothing counts for longer than the longest window: older rows can go, whatever their key.
LONGEST_WINDOW = max(
    *(limit.window for limit in (LINK_EMAIL_LIMIT, LINK_IP_LIMIT, ANNOUNCE_LIMIT, REINVITE_LIMIT)),
    *(backoff.memory for backoff in (SIGN_IN_ACCOUNT, SIGN_IN_ADDRESS, SIGN_IN_DEVICE)),
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


async def backoff_wait(
    session: AsyncSession, key: str, backoff: Backoff, now: datetime
) -> timedelta:
    """How long before the next attempt for `key` is allowed (zero: now)."""
    count, last = (
        await session.execute(
            select(func.count(), func.max(col(RateEvent.at))).where(
                col(RateEvent.key) == key, col(RateEvent.at) > now - backoff.memory
            )
        )
    ).one()
    if last is None:
        return timedelta(0)
    return max(timedelta(0), last + backoff.wait_after(int(count)) - now)


def decision_after(wait: timedelta) -> RateDecision:
    if wait <= timedelta(0):
        return RateDecision(True)
    return RateDecision(False, max(1, math.ceil(wait.total_seconds() / 60)))


async def forget(session: AsyncSession, key: str) -> None:
    """Drop every attempt counted for `key` (a success wipes the slate; the caller commits)."""
    await session.execute(delete(RateEvent).where(col(RateEvent.key) == key))


async def reinvite(
    session: AsyncSession, invitee: str, sender: str, now: datetime
) -> RateDecision | None:
    """Count one invitation sent again by hand (an activation email from /admin or the
    portal, a staff invitation): a few per hour to one person, a few dozen per sender, so the
    button cannot be used to flood a mailbox. None when allowed (counted: the caller
    commits); otherwise the refusal, counting nothing."""
    checks = (
        (f"reinvite:{invitee}", REINVITE_LIMIT),
        (f"reinvite-by:{sender}", REINVITE_SENDER_LIMIT),
    )
    worst: RateDecision | None = None
    for key, limit in checks:
        decision = await peek(session, key, limit.count, limit.window, now)
        if not decision.allowed and (worst is None or decision.retry_after > worst.retry_after):
            worst = decision
    if worst is not None:
        return worst
    for key, limit in checks:
        await record(session, key, limit.window, now)
    return None


async def check_announce(session: AsyncSession, guardian_id: int, now: datetime) -> None:
    """Count one announcement (or change of one) by this guardian; raise `RateLimited` when
    there were too many lately. Call it in the announcing transaction, before changing
    anything, and commit with the announcement."""
    key = f"announce:guardian:{guardian_id}"
    decision = await hit(session, key, ANNOUNCE_LIMIT.count, ANNOUNCE_LIMIT.window, now)
    if not decision.allowed:
        raise RateLimited(decision.retry_after)
