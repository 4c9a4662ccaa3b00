"""Background work on several workers at once: each worker has its own engine and pool on the
same database, they run the same tick at the same moment, and every scheduled arrival
becomes exactly one alert (one transition, one board event), as does each end-of-day expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel import col
from starlette.testclient import TestClient

from server.core.db import Database
from server.core.models import PickupEvent
from server.pickups import service
from server.pickups.events import BoardEvent
from tests.helpers import T0, announce, api_headers, run_async

WORKERS = 4


def announce_for_later(client: TestClient) -> list[int]:
    """Every present child of the demo gets a parent arriving at 16:30 (scheduled)."""
    children = client.get("/api/v1/children", headers=api_headers()).json()
    made: list[int] = []
    for child in children:
        if not child["present"] or not child["guardian_ids"]:
            continue
        child_id, guardian_id = child["id"], child["guardian_ids"][0]
        scheduled = announce(client, child_id, guardian_id, status="scheduled", eta="16:30")
        made.append(scheduled["id"])
    return made


async def race(database_url: str, work: str, moment_offset: timedelta) -> list[BoardEvent]:
    """Each worker runs the tick in its own transaction, all at the same moment."""
    databases = [Database(database_url) for _ in range(WORKERS)]
    now = T0 + moment_offset

    async def tick(db: Database) -> list[BoardEvent]:
        async with db.session() as session:
            run = service.promote_due if work == "promote" else service.expire_past
            events = await run(session, now)
            await session.commit()
            return events

    try:
        results = await asyncio.gather(*(tick(db) for db in databases))
    finally:
        for db in databases:
            await db.dispose()
    return [event for events in results for event in events]


async def transitions_to(database_url: str, status: str) -> dict[int, int]:
    db = Database(database_url)
    try:
        async with db.session() as session:
            rows = await session.execute(
                select(col(PickupEvent.pickup_id), func.count())
                .where(col(PickupEvent.to_status) == status)
                .group_by(col(PickupEvent.pickup_id))
            )
            return {int(pickup): int(count) for pickup, count in rows.all()}
    finally:
        await db.dispose()


def test_each_scheduled_arrival_is_promoted_once_whatever_the_workers(
    client: TestClient, database_url: str
) -> None:
    pickups = announce_for_later(client)
    assert len(pickups) > 50  # enough rows for the workers to collide on

    # 16:26: every arrival is due (16:30 less the 5 preparation minutes).
    events = run_async(lambda: race(database_url, "promote", timedelta(minutes=26)))
    assert sorted(e.pickup_id for e in events if e.pickup_id) == sorted(pickups)
    assert all(e.chime for e in events)
    # One board event number each: the seqs of an installation never repeat.
    seqs = [(e.installation_id, e.seq) for e in events]
    assert len(set(seqs)) == len(seqs)
    assert run_async(lambda: transitions_to(database_url, "announced")) == {
        pickup: 1 for pickup in pickups
    }

    # Past midnight, the day's leftovers expire, once each.
    expired = run_async(lambda: race(database_url, "expire", timedelta(hours=9)))
    assert sorted(e.pickup_id for e in expired if e.pickup_id) == sorted(pickups)
    assert run_async(lambda: transitions_to(database_url, "expired")) == {
        pickup: 1 for pickup in pickups
    }
