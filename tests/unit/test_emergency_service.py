"""Emergencies against the demo database: the roll of the children present at the start,
compare-and-set checks, the ten-second undo, a release only to the family's adults (with its
release-log line), the end, and the summary the director's overview reads."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.core.models import (
    ActorKind,
    Attendance,
    Child,
    Emergency,
    EmergencyKind,
    Guardian,
    Installation,
    Pickup,
    PickupEvent,
    PickupMode,
    PickupStatus,
    RollStatus,
)
from server.emergency import queries, service
from server.emergency.rules import Refusal, RuleError, StartRequest
from server.pickups.writes import Actor
from tests.helpers import T0, in_db

S = RollStatus
T = TypeVar("T")
DIRECTOR = Actor(ActorKind.STAFF, 1, "Direction", "test")
TABLET = Actor(ActorKind.STAFF, 2, "Accueil", "tablet")


def run(url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    return in_db(url, work)


async def _one(session: AsyncSession, model: type[T], **equal: object) -> T:
    return (await session.scalars(select(model).filter_by(**equal))).one()


async def _start(session: AsyncSession, drill: bool = True, ext: str = "ERA") -> Emergency:
    era = await _one(session, Installation, external_id=ext)
    started, events = await service.start(
        session,
        [era],
        StartRequest((era.id or 0,), EmergencyKind.EVACUATION, drill, "Exercice", "Parc"),
        DIRECTOR,
        T0,
    )
    assert [e.kind for e in events] == ["emergency"]
    return started[0]


def test_the_roll_holds_every_child_present_at_the_start_and_lists_absent_ones_apart(
    database_url: str,
) -> None:
    async def work(session: AsyncSession) -> tuple[int, int, list[str]]:
        lea = await _one(session, Child, external_id="C-LEA")
        attendance = await _one(session, Attendance, child_id=lea.id)
        attendance.checked_out_at = T0 - timedelta(hours=1)  # Léa left before the alarm
        session.add(attendance)
        await session.flush()
        emergency = await _start(session)
        roll = await queries.load_roll(session, emergency.installation_id)
        assert roll is not None
        present = sum(len(g.children) for g in roll.groups)
        return present, roll.counts.missing, [a.name for a in roll.absent]

    present, missing, absent = run(database_url, work)
    assert present == missing > 0
    assert absent == ["Léa Tremblay"]


def test_a_second_emergency_at_the_same_installation_is_refused(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        await _start(session)
        with pytest.raises(RuleError) as refused:
            await _start(session)
        assert refused.value.refusal == Refusal.ALREADY_ACTIVE

    run(database_url, work)


def test_checks_are_compare_and_set_and_undone_within_ten_seconds(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        emergency = await _start(session)
        lea = await _one(session, Child, external_id="C-LEA")
        assert lea.id is not None
        first = await service.check(session, emergency, lea.id, TABLET, T0)
        second = await service.check(session, emergency, lea.id, DIRECTOR, T0)
        assert (first.changed, first.status, len(first.events)) == (True, S.PRESENT, 1)
        assert (second.changed, second.status, second.events) == (False, S.PRESENT, [])
        undone = await service.undo(session, emergency, lea.id, TABLET, T0 + timedelta(seconds=9))
        assert (undone.changed, undone.status) == (True, S.PENDING)
        await service.check(session, emergency, lea.id, TABLET, T0 + timedelta(seconds=20))
        with pytest.raises(RuleError) as late:
            await service.undo(session, emergency, lea.id, TABLET, T0 + timedelta(seconds=31))
        assert late.value.refusal == Refusal.UNDO_EXPIRED
        steps = [
            (e.to_status, e.undo_of is not None)
            for e, _n in await queries.timeline(session, emergency.id or 0)
        ]
        assert steps == [(S.PRESENT, False), (S.PENDING, True), (S.PRESENT, False)]

    run(database_url, work)


def test_the_summary_counts_and_names_who_is_missing(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        era = await _one(session, Installation, external_id="ERA")
        assert await queries.roll_summary(session, era.id or 0) is None
        emergency = await _start(session)
        lea = await _one(session, Child, external_id="C-LEA")
        before = await queries.roll_summary(session, era.id or 0)
        assert before is not None and before.drill and before.kind == "evacuation"
        assert before.accounted == 0 and "Léa Tremblay" in [m.name for m in before.missing_children]
        await service.check(session, emergency, lea.id or 0, TABLET, T0)
        after = await queries.roll_summary(session, era.id or 0)
        assert after is not None
        assert (after.accounted, after.missing) == (1, before.missing - 1)
        assert "Léa Tremblay" not in [m.name for m in after.missing_children]
        assert after.missing_children[0].group  # each missing child says its group

    run(database_url, work)


def test_a_child_goes_only_to_an_adult_on_the_family_list_and_the_log_says_so(
    database_url: str,
) -> None:
    async def work(session: AsyncSession) -> None:
        emergency = await _start(session, drill=False)
        lea = await _one(session, Child, external_id="C-LEA")
        julie = await _one(session, Guardian, external_id="G-TREMBLAY")
        stranger = (
            await session.scalars(
                select(Guardian).where(col(Guardian.external_id) != "G-TREMBLAY").limit(1)
            )
        ).one()
        with pytest.raises(RuleError) as refused:
            await service.release(session, emergency, lea, stranger.id or 0, TABLET, T0)
        assert refused.value.refusal == Refusal.NOT_FAMILY
        released = await service.release(session, emergency, lea, julie.id or 0, TABLET, T0)
        assert (released.changed, released.status) == (True, S.RELEASED)
        line = await _one(session, PickupEvent, emergency_id=emergency.id)
        assert (line.handed_to_name, line.to_status) == ("Julie Tremblay", "departed")
        attendance = await _one(session, Attendance, child_id=lea.id)
        assert attendance.checked_out_at == T0
        again = await service.release(session, emergency, lea, julie.id or 0, TABLET, T0)
        assert not again.changed

    run(database_url, work)


def test_a_release_ends_the_pickup_a_parent_had_announced(database_url: str) -> None:
    async def work(session: AsyncSession) -> None:
        emergency = await _start(session, drill=False)
        lea = await _one(session, Child, external_id="C-LEA")
        julie = await _one(session, Guardian, external_id="G-TREMBLAY")
        announced = Pickup(
            organization_id=lea.organization_id,
            installation_id=lea.installation_id,
            child_id=lea.id or 0,
            guardian_id=julie.id or 0,
            day=T0.date(),
            mode=PickupMode.ETA,
            status=PickupStatus.CALLED,  # staff had pressed Appeler before the alarm
            eta=T0,
            created_at=T0,
            announced_at=T0,
            updated_at=T0,
        )
        session.add(announced)
        await session.flush()
        await service.release(session, emergency, lea, julie.id or 0, TABLET, T0)
        await session.refresh(announced)
        assert announced.status == PickupStatus.DEPARTED  # no second pickup for Léa
        line = await _one(session, PickupEvent, emergency_id=emergency.id)
        assert (line.pickup_id, line.from_status) == (announced.id, "called")
        assert len((await session.scalars(select(Pickup).filter_by(child_id=lea.id))).all()) == 1

    run(database_url, work)


def test_an_ended_emergency_records_who_ended_it_and_takes_no_more_checks(
    database_url: str,
) -> None:
    async def work(session: AsyncSession) -> None:
        emergency = await _start(session)
        lea = await _one(session, Child, external_id="C-LEA")
        await service.end(session, emergency, DIRECTOR, T0 + timedelta(minutes=4))
        assert (emergency.ended_by_name, emergency.ended_at) == (
            "Direction",
            T0 + timedelta(minutes=4),
        )
        with pytest.raises(RuleError) as twice:
            await service.end(session, emergency, DIRECTOR, T0 + timedelta(minutes=5))
        assert twice.value.refusal == Refusal.NOT_ACTIVE
        with pytest.raises(RuleError) as late:
            await service.check(session, emergency, lea.id or 0, TABLET, T0 + timedelta(minutes=5))
        assert late.value.refusal == Refusal.NOT_ACTIVE
        assert await queries.load_roll(session, emergency.installation_id) is None
        # A new one may start once the last has ended.
        await _start(session)

    run(database_url, work)
