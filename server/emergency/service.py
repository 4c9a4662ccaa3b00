"""Use-cases of an emergency: start (one row per installation), end, check a child off at
the assembly point, undo that check within ten seconds, hand a child to an authorized adult.
Each is compare-and-set on the row's expected state, writes its timeline line, takes the
installation's next event number and returns the board events to publish after the commit:
every board and wall display of the installation reloads and shows the roll."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import (
    LIVE_STATUSES,
    Attendance,
    Child,
    Emergency,
    Installation,
    Pickup,
    PickupEvent,
    PickupMode,
    PickupStatus,
    RollEvent,
    RollLine,
    RollStatus,
)
from ..pickups.attendance import check_out
from ..pickups.events import BoardEvent, next_seq
from ..pickups.queries import family_adults
from ..pickups.rules import local_day
from ..pickups.service import forget_positions
from ..pickups.writes import Actor
from . import rules
from .queries import active_emergency
from .rules import Refusal, RuleError, StartRequest

S = RollStatus
# The kind of the board event: not one a held board can apply, so every worker reloads the
# board and its roll from the database (the roll is small: one installation's children).
EVENT_KIND = "emergency"


@dataclass
class Outcome:
    """What a roll press did: `changed` False when another tablet was first (not an error:
    the board just shows the current state)."""

    changed: bool
    status: str
    events: list[BoardEvent] = field(default_factory=list)


async def _event(
    session: AsyncSession, installation_id: int, children: tuple[int, ...]
) -> BoardEvent:
    seq = await next_seq(session, installation_id)
    return BoardEvent(installation_id, seq, EVENT_KIND, children=children)


async def _present_today(
    session: AsyncSession, installation: Installation, now: datetime
) -> list[Child]:
    """The installation's children checked in today and not yet gone, by id."""
    day = local_day(now, installation.timezone)
    rows = await session.execute(
        select(Child)
        .join(Attendance, col(Attendance.child_id) == col(Child.id))
        .where(
            col(Child.installation_id) == installation.id,
            col(Child.active).is_(True),
            col(Attendance.day) == day,
            col(Attendance.checked_out_at).is_(None),
        )
        .order_by(col(Child.id))
    )
    return list(rows.scalars())


async def start(
    session: AsyncSession,
    installations: list[Installation],
    request: StartRequest,
    actor: Actor,
    now: datetime,
) -> tuple[list[Emergency], list[BoardEvent]]:
    """One emergency per installation (sharing a batch), each with its roll of the children
    present now. RuleError(ALREADY_ACTIVE) when one of them has one under way: nothing is
    started then (the caller rolls back)."""
    rules.check_start(request)
    batch = secrets.token_hex(8)
    started: list[Emergency] = []
    events: list[BoardEvent] = []
    for installation in installations:
        assert installation.id is not None
        if await active_emergency(session, installation.id) is not None:
            raise RuleError(Refusal.ALREADY_ACTIVE)
        emergency = Emergency(
            organization_id=installation.organization_id,
            installation_id=installation.id,
            batch=batch,
            kind=request.kind,
            drill=request.drill,
            message=request.message,
            assembly_point=request.assembly_point,
            started_at=now,
            started_by_id=actor.id,
            started_by_name=actor.name[:200],
        )
        session.add(emergency)
        try:
            # Two starts racing: the partial unique index lets one through.
            await session.flush()
        except IntegrityError:
            raise RuleError(Refusal.ALREADY_ACTIVE) from None
        assert emergency.id is not None
        children = await _present_today(session, installation, now)
        session.add_all(
            RollLine(emergency_id=emergency.id, child_id=c.id or 0, group_id=c.group_id)
            for c in children
        )
        await session.flush()
        started.append(emergency)
        events.append(await _event(session, installation.id, tuple(c.id or 0 for c in children)))
    return started, events


async def end(
    session: AsyncSession, emergency: Emergency, actor: Actor, now: datetime
) -> list[BoardEvent]:
    """End it, recording who did. A second « end » (another director was first) changes
    nothing and says so with RuleError(NOT_ACTIVE)."""
    result = await session.execute(
        update(Emergency)
        .where(col(Emergency.id) == emergency.id, col(Emergency.ended_at).is_(None))
        .values(ended_at=now, ended_by_id=actor.id, ended_by_name=actor.name[:200])
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise RuleError(Refusal.NOT_ACTIVE)
    await session.refresh(emergency)
    return [await _event(session, emergency.installation_id, ())]


async def _move(
    session: AsyncSession,
    emergency: Emergency,
    child_id: int,
    *,
    expected: tuple[str, ...],
    target: RollStatus,
    now: datetime,
    also: ColumnElement[bool] | None = None,
) -> bool:
    """Compare-and-set one roll line, only while the emergency is under way."""
    assert emergency.id is not None
    conditions = [
        col(RollLine.emergency_id) == emergency.id,
        col(RollLine.child_id) == child_id,
        col(RollLine.status).in_(expected),
        exists().where(col(Emergency.id) == emergency.id, col(Emergency.ended_at).is_(None)),
    ]
    if also is not None:
        conditions.append(also)
    result = await session.execute(
        update(RollLine)
        .where(and_(*conditions))
        .values(status=target, changed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _log(
    emergency: Emergency, child_id: int, before: str, after: str, actor: Actor, now: datetime
) -> RollEvent:
    assert emergency.id is not None
    return RollEvent(
        emergency_id=emergency.id,
        child_id=child_id,
        from_status=before,
        to_status=after,
        at=now,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name[:200],
        device=actor.device[:300],
    )


async def _unchanged(session: AsyncSession, emergency: Emergency, child_id: int) -> Outcome:
    """A press that changed nothing: the emergency ended (refused), or another tablet was
    first (the line's current status)."""
    await session.refresh(emergency)
    rules.check_active(emergency.ended_at)
    line = await _line(session, emergency, child_id)
    return Outcome(False, line.status)


async def _line(session: AsyncSession, emergency: Emergency, child_id: int) -> RollLine:
    line = (
        await session.execute(
            select(RollLine)
            .where(col(RollLine.emergency_id) == emergency.id, col(RollLine.child_id) == child_id)
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if line is None:
        raise LookupError(child_id)  # not on this roll: the handler answers 404
    return line


async def check(
    session: AsyncSession, emergency: Emergency, child_id: int, actor: Actor, now: datetime
) -> Outcome:
    """« Présent »: the child is at the assembly point."""
    line = await _line(session, emergency, child_id)
    target = rules.check_target(S(line.status))
    if target is None or not await _move(
        session, emergency, child_id, expected=(S.PENDING,), target=target, now=now
    ):
        return await _unchanged(session, emergency, child_id)
    session.add(_log(emergency, child_id, S.PENDING, target, actor, now))
    await session.flush()
    return Outcome(True, target, [await _event(session, emergency.installation_id, (child_id,))])


async def undo(
    session: AsyncSession, emergency: Emergency, child_id: int, actor: Actor, now: datetime
) -> Outcome:
    """Take a check back, within `rules.UNDO_WINDOW` of it; RuleError(UNDO_EXPIRED) after."""
    line = await _line(session, emergency, child_id)
    rules.check_active(emergency.ended_at)
    rules.check_undo(S(line.status), line.changed_at, now)
    # The same check as read: a later check (after another undo) is not this one.
    same = col(RollLine.changed_at) == line.changed_at
    if not await _move(
        session, emergency, child_id, expected=(S.PRESENT,), target=S.PENDING, now=now, also=same
    ):
        return await _unchanged(session, emergency, child_id)
    undone = (
        await session.execute(
            select(col(RollEvent.id))
            .where(
                col(RollEvent.emergency_id) == emergency.id,
                col(RollEvent.child_id) == child_id,
                col(RollEvent.to_status) == S.PRESENT,
            )
            .order_by(col(RollEvent.id).desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    event = _log(emergency, child_id, S.PRESENT, S.PENDING, actor, now)
    event.undo_of = undone
    session.add(event)
    await session.flush()
    return Outcome(True, S.PENDING, [await _event(session, emergency.installation_id, (child_id,))])


async def release(
    session: AsyncSession,
    emergency: Emergency,
    child: Child,
    adult_id: int,
    actor: Actor,
    now: datetime,
) -> Outcome:
    """Reunification: hand the child to one of the adults on the family's list (guardians and
    authorized persons; anyone else: RuleError(NOT_FAMILY)). The child is checked out, its
    live alert (if any) closed, and the release log gets its line, tied to the emergency."""
    assert child.id is not None and emergency.id is not None
    rules.check_active(emergency.ended_at)
    adults = {a.id or 0: a for a in await family_adults(session, child.id)}
    adult = adults.get(adult_id)
    rules.check_release(adult_id, adults)
    assert adult is not None and adult.id is not None
    line = await _line(session, emergency, child.id)
    before = line.status
    if not rules.can_release(S(before)) or not await _move(
        session,
        emergency,
        child.id,
        expected=tuple(rules.RELEASE_FROM),
        target=S.RELEASED,
        now=now,
    ):
        return await _unchanged(session, emergency, child.id)
    logged = _log(emergency, child.id, before, S.RELEASED, actor, now)
    logged.handed_to_id, logged.handed_to_name = adult.id, adult.full_name[:200]
    session.add(logged)
    installation = await session.get(Installation, emergency.installation_id)
    assert installation is not None
    await check_out(session, child, installation, now)
    await _release_log(
        session, emergency, child, installation, adult.id, adult.full_name, actor, now
    )
    await session.flush()
    return Outcome(
        True, S.RELEASED, [await _event(session, emergency.installation_id, (child.id,))]
    )


async def _release_log(
    session: AsyncSession,
    emergency: Emergency,
    child: Child,
    installation: Installation,
    adult_id: int,
    adult_name: str,
    actor: Actor,
    now: datetime,
) -> None:
    """The release log's line (the one a director or an inspector reads), on the child's live
    pickup when a parent had announced one (it ends here), else on a pickup made for this
    release: a departure is always a pickup's last step in that log."""
    before: str | None = None
    pickup: Pickup | None = None
    # Compare-and-set, as every transition: a step pressed on a board, or a parent's cancel,
    # committed meanwhile is read again (a few times at most) rather than overwritten.
    for _attempt in range(3):
        pickup = (
            await session.execute(
                select(Pickup).where(
                    col(Pickup.child_id) == child.id, col(Pickup.status).in_(LIVE_STATUSES)
                )
            )
        ).scalar_one_or_none()
        if pickup is None:
            break
        before = pickup.status
        moved = await session.execute(
            update(Pickup)
            .where(col(Pickup.id) == pickup.id, col(Pickup.status) == before)
            .values(status=PickupStatus.DEPARTED, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount:  # type: ignore[attr-defined]
            await session.refresh(pickup)
            await forget_positions(session, pickup.id or 0)  # a GPS trip ends here
            break
        pickup = None
    if pickup is None:
        before = None
        pickup = Pickup(
            organization_id=child.organization_id,
            installation_id=installation.id or 0,
            child_id=child.id or 0,
            guardian_id=adult_id,
            day=local_day(now, installation.timezone),
            mode=PickupMode.ETA,  # no arrival was announced: it is the moment of the release
            status=PickupStatus.DEPARTED,
            eta=now,
            created_at=now,
            announced_at=now,
            updated_at=now,
        )
        session.add(pickup)
    await session.flush()
    assert pickup.id is not None
    session.add(
        PickupEvent(
            pickup_id=pickup.id,
            installation_id=installation.id or 0,
            from_status=before,
            to_status=PickupStatus.DEPARTED,
            at=now,
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=actor.name[:200],
            device=actor.device[:300],
            handed_to_id=adult_id,
            handed_to_name=adult_name[:200],
            emergency_id=emergency.id,
        )
    )
