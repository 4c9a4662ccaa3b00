"""Rate limits: a sliding window counted in the database, so every worker shares it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from server.core import i18n, ratelimit
from server.core.db import Database
from server.core.models import RateEvent
from server.core.ratelimit import (
    ANNOUNCE_LIMIT,
    LINK_EMAIL_LIMIT,
    LINK_IP_LIMIT,
    REINVITE_LIMIT,
    SIGN_IN_ACCOUNT,
    SIGN_IN_ADDRESS,
    SIGN_IN_DEVICE,
    RateDecision,
    RateLimited,
    check_announce,
    hit,
    rate_limited_message,
)
from tests.helpers import T0

WINDOW = timedelta(minutes=15)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def hits(db: Database, key: str, count: int, at_minute: float = 0) -> list[RateDecision]:
    decisions = []
    async with db.session() as session:
        for _n in range(count):
            now = T0 + timedelta(minutes=at_minute)
            decisions.append(await hit(session, key, 3, WINDOW, now))
        await session.commit()
    return decisions


async def rows(db: Database, key: str | None = None) -> int:
    async with db.session() as session:
        query = select(func.count()).select_from(RateEvent)
        if key is not None:
            query = query.where(col(RateEvent.key) == key)
        return int((await session.execute(query)).scalar_one())


def test_the_limits_are_the_documented_ones() -> None:
    minute, cap, day = timedelta(minutes=1), timedelta(minutes=15), timedelta(hours=24)
    for backoff, free in ((SIGN_IN_ACCOUNT, 5), (SIGN_IN_ADDRESS, 20), (SIGN_IN_DEVICE, 5)):
        shape = (backoff.free, backoff.first, backoff.cap, backoff.memory)
        assert shape == (free, minute, cap, day)
    assert (REINVITE_LIMIT.count, REINVITE_LIMIT.window) == (3, timedelta(hours=1))
    assert (LINK_EMAIL_LIMIT.count, LINK_EMAIL_LIMIT.window) == (5, timedelta(hours=1))
    assert (LINK_IP_LIMIT.count, LINK_IP_LIMIT.window) == (20, timedelta(hours=1))
    assert (ANNOUNCE_LIMIT.count, ANNOUNCE_LIMIT.window) == (20, timedelta(minutes=10))


async def test_attempts_beyond_the_limit_are_refused_until_the_window_moves(db: Database) -> None:
    first = await hits(db, "k", 3, at_minute=0)
    assert all(d.allowed for d in first)
    (refused,) = await hits(db, "k", 1, at_minute=4)
    assert refused == RateDecision(False, 11)  # the oldest of the three leaves at minute 15
    (still,) = await hits(db, "k", 1, at_minute=14.5)
    assert still == RateDecision(False, 1)  # never "0 minutes"
    (again,) = await hits(db, "k", 1, at_minute=15)
    assert again.allowed


async def test_refused_attempts_do_not_extend_the_wait(db: Database) -> None:
    await hits(db, "k", 3, at_minute=0)
    for minute in (1, 2, 3, 10):
        (refused,) = await hits(db, "k", 1, at_minute=minute)
        assert not refused.allowed
    assert await rows(db, "k") == 3
    (allowed,) = await hits(db, "k", 1, at_minute=15)
    assert allowed.allowed


async def test_the_wait_follows_the_attempt_that_leaves_the_window_first(db: Database) -> None:
    await hits(db, "k", 1, at_minute=0)
    await hits(db, "k", 2, at_minute=10)
    (refused,) = await hits(db, "k", 1, at_minute=12)
    assert refused.retry_after == 3
    (allowed,) = await hits(db, "k", 1, at_minute=15)
    assert allowed.allowed
    (refused,) = await hits(db, "k", 1, at_minute=16)
    assert refused.retry_after == 9


async def test_keys_are_counted_apart(db: Database) -> None:
    await hits(db, "a", 3)
    assert not (await hits(db, "a", 1))[0].allowed
    assert (await hits(db, "b", 1))[0].allowed


async def test_workers_share_the_count_through_the_database(
    db: Database, database_url: str
) -> None:
    other_worker = Database(database_url)
    try:
        await hits(db, "k", 2)
        await hits(other_worker, "k", 1)
        assert not (await hits(db, "k", 1))[0].allowed
    finally:
        await other_worker.dispose()


async def test_old_rows_are_purged(db: Database) -> None:
    await hits(db, "k", 3, at_minute=0)
    await hits(db, "other", 2, at_minute=0)
    await hits(db, "k", 1, at_minute=16)  # counting "k" again drops its forgotten rows
    assert await rows(db, "k") == 1
    assert await rows(db, "other") == 2
    async with db.session() as session:
        await ratelimit.purge(session, T0 + ratelimit.LONGEST_WINDOW + timedelta(minutes=1))
        await session.commit()
    assert await rows(db) == 1  # only the row from minute 16 is recent enough


async def test_announcements_raise_rate_limited_after_twenty(db: Database) -> None:
    async with db.session() as session:
        for n in range(ANNOUNCE_LIMIT.count):
            await check_announce(session, 7, T0 + timedelta(seconds=n))
        with pytest.raises(RateLimited) as refused:
            await check_announce(session, 7, T0 + timedelta(minutes=1))
        assert refused.value.retry_after_minutes == 9
        await check_announce(session, 8, T0 + timedelta(minutes=1))  # another guardian
        await check_announce(session, 7, T0 + ANNOUNCE_LIMIT.window)
        await session.commit()


def test_the_message_says_how_long_to_wait_in_plain_words() -> None:
    with i18n.use_locale("en"):
        assert rate_limited_message(RateLimited(1)) == "Too many attempts. Try again in 1 minute."
        assert rate_limited_message(RateLimited(12)) == (
            "Too many attempts. Try again in 12 minutes."
        )
        assert rate_limited_message(RateDecision(False, 3)).endswith("3 minutes.")
    with i18n.use_locale("fr_CA"):
        assert "12" in rate_limited_message(RateLimited(12))


def test_email_keys_do_not_store_the_address() -> None:
    key = ratelimit.email_key("signin", " Parent@Example.org ")
    assert "parent" not in key.lower().split(":", 2)[2]
    assert key == ratelimit.email_key("signin", "parent@example.org")
    assert len(key) <= 200
    assert len(ratelimit.ip_key("signin", "x" * 500)) <= 200


def test_backoff_doubles_the_wait_up_to_its_cap() -> None:
    waits = [SIGN_IN_ACCOUNT.wait_after(n).total_seconds() / 60 for n in range(3, 12)]
    assert waits == [0, 0, 1, 2, 4, 8, 15, 15, 15]
    assert SIGN_IN_ACCOUNT.wait_after(10_000) == timedelta(minutes=15)


async def test_backoff_waits_from_the_last_failure_and_forgets_after_a_day(db: Database) -> None:
    key = "signin:test"
    async with db.session() as session:
        for n in range(5):
            await ratelimit.record(session, key, SIGN_IN_ACCOUNT.memory, T0 + timedelta(seconds=n))
        await session.commit()
        last = T0 + timedelta(seconds=4)
        assert await ratelimit.backoff_wait(session, key, SIGN_IN_ACCOUNT, last) == timedelta(
            minutes=1
        )
        later = last + timedelta(seconds=30)
        assert ratelimit.decision_after(
            await ratelimit.backoff_wait(session, key, SIGN_IN_ACCOUNT, later)
        ) == RateDecision(False, 1)
        assert ratelimit.decision_after(
            await ratelimit.backoff_wait(session, key, SIGN_IN_ACCOUNT, last + timedelta(minutes=1))
        ).allowed
        tomorrow = T0 + timedelta(hours=24, seconds=5)
        assert await ratelimit.backoff_wait(session, key, SIGN_IN_ACCOUNT, tomorrow) == timedelta(0)
        await ratelimit.forget(session, key)
        await session.commit()
    assert await rows(db, key) == 0
