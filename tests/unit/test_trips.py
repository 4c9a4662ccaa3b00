"""GPS trips against the demo database: a phone approaching Pavillon des Érables alerts the
board once, when within the preparation time; siblings share one trip; positions do not
outlive the trip; impossible positions change nothing.

Each position is recorded in its own committed transaction, with `now` a second after the
fix was taken, as the parent page's requests would be.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypedDict, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.core.db import Database
from server.core.models import (
    ActorKind,
    Child,
    Guardian,
    Installation,
    Pickup,
    PickupEvent,
    PickupStatus,
    TripPosition,
)
from server.pickups import eta, service, trips
from server.pickups.board import AlertItem, BoardState, apply_event, load_board
from server.pickups.eta import Position
from server.pickups.events import BoardEvent
from server.pickups.rules import Refusal, RuleError
from server.pickups.service import Actor, Outcome
from tests.helpers import T0, in_db
from tests.unit.test_trip_estimator import ERA, approach, point

S = PickupStatus
T = TypeVar("T")
STAFF = Actor(ActorKind.STAFF, None, "Accueil", "test")
DELAY = timedelta(seconds=1)  # from the phone's fix to the server


class Parties(TypedDict):
    """Who a trip or an announcement is for, by and where."""

    child: Child
    guardian: Guardian
    installation: Installation
    actor: Actor


@dataclass
class Family:
    """The demo family: Julie Tremblay, Léa (Les Lutins) and Noah (Les Explorateurs), both
    present today at Pavillon des Érables."""

    guardian: Guardian
    lea: Child
    noah: Child
    era: Installation

    @property
    def actor(self) -> Actor:
        return Actor(ActorKind.GUARDIAN, self.guardian.id, self.guardian.full_name, "phone")

    def parties(self, child: Child) -> Parties:
        """`child` picked up by Julie, from her phone, at Pavillon des Érables."""
        return Parties(child=child, guardian=self.guardian, installation=self.era, actor=self.actor)


async def family(session: AsyncSession) -> Family:
    async def one(model: type[T], external_id: str) -> T:
        column = model.external_id  # type: ignore[attr-defined]
        row: T = (await session.execute(select(model).where(column == external_id))).scalar_one()
        return row

    result = Family(
        guardian=await one(Guardian, "G-TREMBLAY"),
        lea=await one(Child, "C-LEA"),
        noah=await one(Child, "C-NOAH"),
        era=await one(Installation, "ERA"),
    )
    assert (result.era.latitude, result.era.longitude) == ERA
    assert result.era.preparation_minutes == 5
    return result


async def begin(
    session: AsyncSession, fam: Family, child: Child, position: Position, now: datetime
) -> Outcome:
    """`child`'s trip with Julie to Pavillon des Érables, from `position`, as the page sends
    it (not committed)."""
    return await trips.start_trip(session, **fam.parties(child), position=position, now=now)


async def start(session: AsyncSession, fam: Family, child: Child, fix: Position) -> Pickup:
    outcome = await begin(session, fam, child, fix, fix.at + DELAY)
    await session.commit()
    return outcome.pickup


async def lea_on_her_way(
    session: AsyncSession, metres: float, sent: int = 1
) -> tuple[list[Position], Family, Pickup]:
    """Julie driving to Léa from `metres` away at 40 km/h (every fix of the way): Léa's trip
    started from the first fix and the next `sent - 1` positions recorded, committed."""
    fixes, _ = approach(metres, 40, start=T0)
    fam = await family(session)
    pickup = await start(session, fam, fam.lea, fixes[0])
    for fix in fixes[1:sent]:
        await trips.record_position(session, pickup, fix, fix.at + DELAY)
    await session.commit()
    return fixes, fam, pickup


@asynccontextmanager
async def one_trip_loaded_twice(
    db: Database, fix: Position
) -> AsyncIterator[tuple[Family, tuple[AsyncSession, Pickup], tuple[AsyncSession, Pickup]]]:
    """Léa's trip started from `fix`, then loaded by two requests (each its own session)
    before either commits."""
    async with db.session() as session:
        fam = await family(session)
        pickup = await start(session, fam, fam.lea, fix)
    async with db.session() as first, db.session() as second:
        one, other = await first.get(Pickup, pickup.id), await second.get(Pickup, pickup.id)
        assert one is not None and other is not None
        yield fam, (first, one), (second, other)


async def positions_of(session: AsyncSession, pickup_id: int | None) -> int:
    count: int = (
        await session.execute(
            select(func.count())
            .select_from(TripPosition)
            .where(col(TripPosition.pickup_id) == pickup_id)
        )
    ).scalar_one()
    return count


async def log_of(session: AsyncSession, pickup_id: int | None) -> list[PickupEvent]:
    of_the_pickup = select(PickupEvent).where(col(PickupEvent.pickup_id) == pickup_id)
    return list((await session.scalars(of_the_pickup.order_by(col(PickupEvent.id)))).all())


async def assert_ended(session: AsyncSession, pickup: Pickup, status: PickupStatus) -> None:
    """The pickup in `status`, none of its trip's positions kept."""
    assert pickup.status == status
    assert await positions_of(session, pickup.id) == 0


def minutes_left(pickup: Pickup, now: datetime) -> float:
    assert pickup.eta is not None
    return (pickup.eta - now).total_seconds() / 60


# --- The alert fires once, within the preparation time -----------------------------------------


@dataclass
class Step:
    minutes: float
    status: str
    events: list[BoardEvent]


def test_an_approach_stays_tracking_then_is_announced_exactly_once(database_url: str) -> None:
    fixes, distances = approach(8_000, 40, start=T0)

    async def work(session: AsyncSession) -> tuple[Pickup, list[Step], list[PickupEvent], int]:
        fam = await family(session)
        pickup = await start(session, fam, fam.lea, fixes[0])
        assert pickup.status == S.TRACKING
        assert await positions_of(session, pickup.id) == 1
        steps = []
        for fix in fixes[1:]:
            now = fix.at + DELAY
            events = await trips.record_position(session, pickup, fix, now)
            await session.commit()
            steps.append(Step(minutes_left(pickup, now), pickup.status, events))
        return (
            pickup,
            steps,
            await log_of(session, pickup.id),
            await positions_of(session, pickup.id),
        )

    pickup, steps, log, stored = in_db(database_url, work)
    announced_at = next(i for i, step in enumerate(steps) if step.status == S.ANNOUNCED)
    # Not before: every estimate until then was over the preparation time...
    assert all(step.status == S.TRACKING and step.minutes > 5 for step in steps[:announced_at])
    # ...then at the first estimate within it, and it stays announced until arrival.
    assert steps[announced_at].minutes <= 5
    assert all(step.status == S.ANNOUNCED for step in steps[announced_at:])
    # When a perfect estimator would have said 5 min, give or take 15%.
    truth = distances[announced_at + 1] * eta.DETOUR_FACTOR / (40 * 1000 / 60)
    assert 5 * 0.85 <= truth <= 5 * 1.15
    # Exactly once: one chime, one log line, by the guardian.
    chimes = [e for step in steps for e in step.events if e.chime]
    assert len(chimes) == 1 and chimes[0].pickup_id == pickup.id
    assert chimes[0] in steps[announced_at].events
    assert [(e.from_status, e.to_status) for e in log] == [
        (None, S.TRACKING),
        (S.TRACKING, S.ANNOUNCED),
    ]
    assert log[1].actor_kind == ActorKind.GUARDIAN and log[1].actor_id == pickup.guardian_id
    assert pickup.announced_at == fixes[announced_at + 1].at + DELAY
    # Boards hear of the trip when "GPS ~N min" changes, or once per FIX_STEP so the age
    # they show of the fix stays true; not at every position.
    events = [e for step in steps for e in step.events]
    assert len(events) < len(steps) / 2
    for before, fix, step in zip(fixes, fixes[1:], steps, strict=False):
        new_step = eta.fix_step(fix.at) != eta.fix_step(before.at)
        if new_step:
            assert step.events, "a fix in a new FIX_STEP reaches the boards"
        for event in step.events:
            assert event.pickup is not None and event.pickup.last_fix_at == fix.at
    shown_minutes = [e.pickup.gps_minutes for e in events if e.pickup is not None]
    steps_spanned = (fixes[-1].at - fixes[0].at) / eta.FIX_STEP + 1
    assert len(events) <= steps_spanned + len(set(shown_minutes))
    assert len({e.seq for e in events}) == len(events)
    shown = [step.events for step in steps]
    assert all(e.pickup_id == pickup.id for batch in shown for e in batch)
    # Only the recent positions are kept while the trip lasts.
    assert 0 < stored <= eta.MAX_AGE.total_seconds() / 5 + 1


def test_a_trip_already_within_the_preparation_time_is_announced_at_once(
    database_url: str,
) -> None:
    here = Position(*point(1_000), T0, 10.0)

    async def work(session: AsyncSession) -> tuple[Pickup, list[PickupEvent]]:
        fam = await family(session)
        outcome = await begin(session, fam, fam.lea, here, T0)
        assert [e.chime for e in outcome.events] == [True]
        await session.commit()
        return outcome.pickup, await log_of(session, outcome.pickup.id)

    pickup, log = in_db(database_url, work)
    assert pickup.status == S.ANNOUNCED and pickup.announced_at == T0
    assert pickup.gps_minutes == 3  # 1.3 km of road at 30 km/h: 2.6 min
    assert [e.to_status for e in log] == [S.ANNOUNCED]


def test_two_workers_racing_on_the_due_position_announce_once(database_url: str) -> None:
    """Two requests with the same pickup loaded before either committed."""
    fixes, _ = approach(3_000, 40, start=T0)

    async def work(db: Database) -> tuple[list[BoardEvent], list[BoardEvent], list[PickupEvent]]:
        async with one_trip_loaded_twice(db, fixes[0]) as (_, (first, mine), (second, theirs)):
            a: list[BoardEvent] = []
            for fix in fixes[1:40]:  # within 5 min by the end
                a += await trips.record_position(first, mine, fix, fix.at + DELAY)
            await first.commit()
            assert theirs.status == S.TRACKING  # stale: loaded before the commit
            late = fixes[40]
            b = await trips.record_position(second, theirs, late, late.at + DELAY)
            await second.commit()
            return a, b, await log_of(second, theirs.id)

    a, b, log = with_database(database_url, work)
    assert [e.chime for e in a].count(True) == 1
    assert not any(e.chime for e in b)
    assert [e.to_status for e in log].count(S.ANNOUNCED) == 1


def with_database(database_url: str, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        db = Database(database_url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


# --- Siblings share one trip --------------------------------------------------------------------


def test_one_position_moves_both_siblings(database_url: str) -> None:
    fixes, _ = approach(6_000, 40, start=T0)

    async def work(session: AsyncSession) -> None:
        fam = await family(session)
        lea = await start(session, fam, fam.lea, fixes[0])
        noah = await start(session, fam, fam.noah, fixes[0])
        assert lea.status == noah.status == S.TRACKING
        assert fam.guardian.id is not None

        one = fixes[10]
        await trips.record_position_for_guardian(session, fam.guardian.id, one, one.at + DELAY)
        await session.commit()
        for pickup in (lea, noah):
            await session.refresh(pickup)
            assert pickup.updated_at == one.at + DELAY
            assert await positions_of(session, pickup.id) == 2
        assert lea.eta == noah.eta and lea.gps_minutes == noah.gps_minutes

        chimes: list[BoardEvent] = []
        for fix in fixes[11:]:
            now = fix.at + DELAY
            events = await trips.record_position_for_guardian(session, fam.guardian.id, fix, now)
            await session.commit()
            chimes += [e for e in events if e.chime]
        for pickup in (lea, noah):
            await session.refresh(pickup)
            assert pickup.status == S.ANNOUNCED
        # One alert per child, fired by the same position.
        assert sorted(e.pickup_id or 0 for e in chimes) == sorted([lea.id or 0, noah.id or 0])
        lea_log, noah_log = await log_of(session, lea.id), await log_of(session, noah.id)
        assert lea_log[-1].at == noah_log[-1].at

    in_db(database_url, work)


def test_a_guardians_position_moves_only_that_guardians_gps_trips(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        fixes, fam, lea = await lea_on_her_way(session, 6_000)
        # Noah announced by time: no trip to move.
        in_an_hour = (T0 + timedelta(hours=1)).timetz().replace(tzinfo=None)
        by_time = await service.announce_eta(
            session, **fam.parties(fam.noah), arrival=in_an_hour, now=T0
        )
        await session.commit()
        # Another family's trip.
        other_child = (
            await session.execute(select(Child).where(col(Child.external_id) == "C0001"))
        ).scalar_one()
        other_guardian = (
            await session.execute(select(Guardian).where(col(Guardian.external_id) == "G0001"))
        ).scalar_one()
        other = (
            await trips.start_trip(
                session,
                child=other_child,
                guardian=other_guardian,
                installation=fam.era,
                position=fixes[0],
                actor=fam.actor,
                now=T0,
            )
        ).pickup
        await session.commit()
        assert fam.guardian.id is not None
        assert [p.id for p in await trips.live_trips(session, fam.guardian.id, T0)] == [lea.id]

        fix = fixes[10]
        await trips.record_position_for_guardian(session, fam.guardian.id, fix, fix.at + DELAY)
        await session.commit()
        assert await positions_of(session, lea.id) == 2
        assert await positions_of(session, other.id) == 1
        assert await positions_of(session, by_time.pickup.id) == 0
        # And an arrival by time ignores positions sent for it.
        assert await trips.record_position(session, by_time.pickup, fix, fix.at + DELAY) == []
        assert await positions_of(session, by_time.pickup.id) == 0

    in_db(database_url, work)


# --- Positions do not outlive the trip ----------------------------------------------------------


def test_positions_are_deleted_at_departure(database_url: str) -> None:
    fixes, _ = approach(1_500, 40, start=T0)  # within the preparation time from the start

    async def work(session: AsyncSession) -> None:
        fam = await family(session)
        pickup = await start(session, fam, fam.lea, fixes[0])
        assert pickup.status == S.ANNOUNCED
        for fix in fixes[1:12]:
            await trips.record_position(session, pickup, fix, fix.at + DELAY)
        await session.commit()
        assert await positions_of(session, pickup.id) == 12
        now = fixes[12].at
        for target in (S.CALLED, S.READY):
            await service.advance(
                session, pickup, target=target, expected=None, actor=STAFF, now=now
            )
            await session.commit()
            assert await positions_of(session, pickup.id) == 12  # the trip goes on
        await service.advance(
            session, pickup, target=S.DEPARTED, expected=None, actor=STAFF, now=now
        )
        await session.commit()
        assert await positions_of(session, pickup.id) == 0
        # A position still in flight from the phone is not stored again.
        late = fixes[12]
        assert await trips.record_position(session, pickup, late, late.at + DELAY) == []
        await session.commit()
        assert await positions_of(session, pickup.id) == 0

    in_db(database_url, work)


def test_positions_are_deleted_at_cancel_and_later_positions_are_ignored(
    database_url: str,
) -> None:
    async def work(session: AsyncSession) -> None:
        fixes, fam, pickup = await lea_on_her_way(session, 8_000, sent=6)
        assert await positions_of(session, pickup.id) == 6
        await service.cancel(session, pickup, actor=fam.actor, now=fixes[6].at)
        await session.commit()
        assert await positions_of(session, pickup.id) == 0
        before = (pickup.eta, pickup.gps_minutes, pickup.updated_at)

        for fix in fixes[7:]:  # the page keeps sending until it notices
            assert await trips.record_position(session, pickup, fix, fix.at + DELAY) == []
        assert fam.guardian.id is not None
        late = fixes[-1]
        assert (
            await trips.record_position_for_guardian(session, fam.guardian.id, late, late.at) == []
        )
        await session.commit()
        await session.refresh(pickup)
        assert pickup.status == S.CANCELLED
        assert (pickup.eta, pickup.gps_minutes, pickup.updated_at) == before
        assert await positions_of(session, pickup.id) == 0
        assert [e.to_status for e in await log_of(session, pickup.id)] == [
            S.TRACKING,
            S.CANCELLED,
        ]

    in_db(database_url, work)


def test_a_cancel_committed_elsewhere_wins_over_a_stale_pickup(database_url: str) -> None:
    fixes, _ = approach(8_000, 40, start=T0)

    async def work(db: Database) -> None:
        trip = one_trip_loaded_twice(db, fixes[0])
        async with trip as (fam, (phone, stale), (parent_page, current)):
            await service.cancel(parent_page, current, actor=fam.actor, now=fixes[1].at)
            await parent_page.commit()
            fix = fixes[2]
            assert await trips.record_position(phone, stale, fix, fix.at + DELAY) == []
            await phone.commit()
            await assert_ended(phone, stale, S.CANCELLED)

    with_database(database_url, work)


def test_positions_are_deleted_when_the_day_ends(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        _, _, pickup = await lea_on_her_way(session, 8_000, sent=2)
        assert await positions_of(session, pickup.id) == 2
        midnight = T0.replace(hour=0) + timedelta(days=1)
        await service.expire_past(session, midnight)
        await session.commit()
        await session.refresh(pickup)
        await assert_ended(session, pickup, S.EXPIRED)

    in_db(database_url, work)


def test_end_trip_forgets_positions_and_keeps_the_pickup(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        _, _, pickup = await lea_on_her_way(session, 8_000, sent=2)
        assert pickup.id is not None
        await trips.end_trip(session, pickup.id)
        await session.commit()
        await session.refresh(pickup)
        assert await positions_of(session, pickup.id) == 0
        assert pickup.status == S.TRACKING

    in_db(database_url, work)


def test_a_trip_whose_phone_went_silent_alerts_when_its_last_estimate_comes_due(
    database_url: str,
) -> None:
    async def work(session: AsyncSession) -> None:
        _, _, pickup = await lea_on_her_way(session, 8_000)
        assert pickup.status == S.TRACKING and pickup.eta is not None
        # The phone stops sharing; nothing comes before the estimate says "5 minutes away".
        almost = pickup.eta - timedelta(minutes=5, seconds=1)
        assert await service.promote_due(session, almost) == []
        events = await service.promote_due(session, almost + timedelta(seconds=1))
        await session.commit()
        await session.refresh(pickup)
        assert pickup.status == S.ANNOUNCED
        assert [e.chime for e in events] == [True]
        assert await service.promote_due(session, almost + timedelta(minutes=1)) == []

    in_db(database_url, work)


# --- A silent phone: « signal perdu », then the predicted time -----------------------------------


def test_a_silent_trip_falls_back_to_its_predicted_time_once_and_alerts_at_that_time(
    database_url: str,
) -> None:
    async def work(session: AsyncSession) -> None:
        fixes, _, pickup = await lea_on_her_way(session, 8_000, sent=3)
        last = fixes[2].at
        predicted = pickup.eta
        assert predicted is not None and pickup.announce_at is None
        # Not before FALLBACK_AFTER without a fix.
        almost = last + eta.FALLBACK_AFTER - timedelta(seconds=1)
        assert await trips.fall_back_silent_trips(session, almost) == []
        events = await trips.fall_back_silent_trips(session, last + eta.FALLBACK_AFTER)
        await session.commit()
        await session.refresh(pickup)
        # The last estimate's arrival moment stays the arrival; the alert is due 5 min before.
        assert pickup.eta == predicted and pickup.status == S.TRACKING
        assert pickup.announce_at == predicted - timedelta(minutes=5)
        [event] = events
        assert event.pickup is not None and not event.chime
        assert event.pickup.announce_at == pickup.announce_at
        assert event.pickup.last_fix_at == last
        # Once, however many ticks (or workers) look again.
        assert await trips.fall_back_silent_trips(session, last + timedelta(minutes=9)) == []
        # Still alerted in time: at the predicted time minus the preparation time.
        due = predicted - timedelta(minutes=5)
        assert await service.promote_due(session, due - timedelta(seconds=1)) == []
        promoted = await service.promote_due(session, due)
        assert [e.chime for e in promoted] == [True]

    in_db(database_url, work)


def test_a_fix_after_the_fallback_brings_the_gps_minutes_back(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        fixes, _, pickup = await lea_on_her_way(session, 8_000, sent=2)
        later = fixes[1].at + timedelta(minutes=6)
        [_fell_back] = await trips.fall_back_silent_trips(session, later)
        await session.commit()
        await session.refresh(pickup)
        assert pickup.announce_at is not None
        # The phone finds the signal again, no nearer than before: boards are told all the same.
        again = Position(fixes[1].latitude, fixes[1].longitude, later, 8.0)
        [event] = await trips.record_position(session, pickup, again, later)
        await session.commit()
        await session.refresh(pickup)
        assert pickup.announce_at is None and pickup.status == S.TRACKING
        assert event.pickup is not None and event.pickup.announce_at is None
        assert event.pickup.last_fix_at == later

    in_db(database_url, work)


def test_a_phone_that_stops_sharing_falls_back_at_the_next_tick(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        fixes, _, pickup = await lea_on_her_way(session, 8_000, sent=2)
        assert pickup.id is not None
        await trips.end_trip(session, pickup.id)
        await session.commit()
        # No position kept: nothing to wait for.
        [event] = await trips.fall_back_silent_trips(session, fixes[1].at + DELAY)
        assert event.pickup is not None and event.pickup.last_fix_at is None
        assert event.pickup.announce_at is not None

    in_db(database_url, work)


def test_an_arrival_by_time_or_a_live_phone_never_falls_back(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        fixes, fam, lea = await lea_on_her_way(session, 8_000, sent=2)
        in_an_hour = (T0 + timedelta(hours=1)).timetz().replace(tzinfo=None)
        await service.announce_eta(session, **fam.parties(fam.noah), arrival=in_an_hour, now=T0)
        await session.commit()
        fix = fixes[1].at
        for minutes in range(1, 12):  # a fix every minute: never silent for five
            now = fix + timedelta(minutes=minutes)
            moved = Position(fixes[1].latitude, fixes[1].longitude, now, 8.0)
            await trips.record_position(session, lea, moved, now)
            assert await trips.fall_back_silent_trips(session, now + timedelta(seconds=59)) == []
            await session.commit()

    in_db(database_url, work)


# A trip's timeline in seconds after its first fix: fixes in bursts and gaps around the
# FIX_STEP boundaries, the background work's ticks, a silence long enough to fall back, a fix again.
TIMELINE = [
    (1, "fix"), (3, "fix"), (14, "fix"), (15, "fix"), (16, "fix"), (29, "fix"), (31, "fix"),
    (44, "fix"), (75, "fix"), (200, "tick"), (374, "tick"), (375, "tick"), (390, "fix"),
    (391, "tick"), (405, "fix"), (406, "fix"),
]  # fmt: skip


def as_shown(board: BoardState) -> tuple[AlertItem, ...]:
    """A board's arrivals as their cards show them. (A live trip's `eta` moves at every fix
    without an event, as it did before boards showed the fix's age; its card shows the
    minutes, not that instant. Once fallen back, the instant is shown, and compared.)"""
    return tuple(
        item if item.fallen_back else replace(item, eta=None)
        for item in (*board.alerts, *board.upcoming)
    )


def test_a_board_held_from_the_events_shows_the_trip_as_a_fresh_load_does(
    database_url: str,
) -> None:
    """Boards are not told of every fix: what they hold (the fix's FIX_STEP) must still be
    what a fresh page shows, after every fix and every tick."""

    async def work(session: AsyncSession) -> None:
        fixes, fam, pickup = await lea_on_her_way(session, 8_000)
        await session.refresh(fam.era)
        held = await load_board(session, fam.era, fixes[0].at + DELAY)
        told = 0
        for second, what in TIMELINE:
            now = fixes[0].at + timedelta(seconds=second)
            if what == "fix":
                where = fixes[min(second // 5, len(fixes) - 1)]
                fix = Position(where.latitude, where.longitude, now, 8.0)
                events = await trips.record_position(session, pickup, fix, now + DELAY)
            else:
                events = await trips.fall_back_silent_trips(session, now)
            await session.commit()
            told += len(events)
            for event in events:
                after = apply_event(held, event, now)
                assert after is not None, f"the held board needs a reload at {second} s"
                held = after
            await session.refresh(fam.era)
            fresh = await load_board(session, fam.era, now)
            assert held.seq == fresh.seq
            assert as_shown(held) == as_shown(fresh), f"held and fresh differ at {second} s"
            [item] = fresh.upcoming
            fallen = 375 <= second < 390  # five minutes after the fix at 75 s
            assert item.fallen_back == fallen
            assert (item.fix_at is None) == fallen
        assert told < len([w for _s, w in TIMELINE if w == "fix"])  # not one event per fix

    in_db(database_url, work)


# --- Impossible positions change nothing --------------------------------------------------------

IMPOSSIBLE = [
    pytest.param(Position(float("nan"), ERA[1], T0, 10.0), id="nan"),
    pytest.param(Position(ERA[0], float("inf"), T0, 10.0), id="inf"),
    pytest.param(Position(91.0, ERA[1], T0, 10.0), id="lat-91"),
    pytest.param(Position(ERA[0], -181.0, T0, 10.0), id="lon-minus-181"),
    pytest.param(Position(*ERA, T0, -1.0), id="accuracy-negative"),
    pytest.param(Position(*ERA, T0 + timedelta(hours=1), 10.0), id="an-hour-ahead"),
    pytest.param(Position(*ERA, T0 - timedelta(hours=1), 10.0), id="an-hour-old"),
]


@pytest.mark.parametrize("position", IMPOSSIBLE)
def test_an_impossible_first_position_announces_nothing(
    database_url: str, position: Position
) -> None:
    async def work(session: AsyncSession) -> int:
        fam = await family(session)
        with pytest.raises(RuleError) as excinfo:
            await begin(session, fam, fam.lea, position, T0)
        assert excinfo.value.refusal == Refusal.BAD_POSITION
        count: int = (await session.execute(select(func.count()).select_from(Pickup))).scalar_one()
        return count + await positions_of(session, None) + await all_positions(session)

    assert in_db(database_url, work) == 0


async def all_positions(session: AsyncSession) -> int:
    count: int = (
        await session.execute(select(func.count()).select_from(TripPosition))
    ).scalar_one()
    return count


@pytest.mark.parametrize("position", IMPOSSIBLE)
def test_an_impossible_later_position_is_refused_and_not_stored(
    database_url: str, position: Position
) -> None:
    async def work(session: AsyncSession) -> None:
        _, fam, pickup = await lea_on_her_way(session, 8_000)
        before = (pickup.eta, pickup.gps_minutes, pickup.updated_at, pickup.status)
        assert fam.guardian.id is not None
        with pytest.raises(RuleError) as one:
            await trips.record_position(session, pickup, position, T0)
        with pytest.raises(RuleError) as every:
            await trips.record_position_for_guardian(session, fam.guardian.id, position, T0)
        assert one.value.refusal == every.value.refusal == Refusal.BAD_POSITION
        await session.commit()
        await session.refresh(pickup)
        assert (pickup.eta, pickup.gps_minutes, pickup.updated_at, pickup.status) == before
        assert await all_positions(session) == 1

    in_db(database_url, work)


# --- The API's one-position announcement is a trip ----------------------------------------------


def test_announce_gps_starts_a_trip(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        fam = await family(session)

        async def gps(child: Child, latitude: float, longitude: float) -> Outcome:
            return await trips.announce_gps(
                session, **fam.parties(child), latitude=latitude, longitude=longitude, now=T0
            )

        outcome = await gps(fam.lea, *point(8_000))
        await session.commit()
        assert outcome.pickup.status == S.TRACKING
        assert outcome.pickup.gps_minutes == 21  # 10.4 km of road at 30 km/h: 20.8 min
        assert await positions_of(session, outcome.pickup.id) == 1
        with pytest.raises(RuleError) as excinfo:
            await gps(fam.noah, 91.0, ERA[1])
        assert excinfo.value.refusal == Refusal.BAD_POSITION

    in_db(database_url, work)
