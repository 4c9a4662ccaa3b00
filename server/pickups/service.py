"""Use-cases of the pickup lifecycle: load facts, apply the pure rules, write the change and
its log line, and return the board events to publish once the caller has committed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from ..core.models import (
    Attendance,
    Child,
    ChildGuardian,
    Guardian,
    Installation,
    Pickup,
    PickupMode,
    PickupStatus,
)
from . import rules, writes
from .attendance import today_attendance
from .events import BoardEvent, note_seq
from .rules import Refusal, RuleError
from .writes import SYSTEM, Actor

__all__ = ["SYSTEM", "Actor", "Outcome"]

S = PickupStatus
T = TypeVar("T")


@dataclass
class Outcome:
    pickup: Pickup
    changed: bool
    events: list[BoardEvent] = field(default_factory=list)


async def _log(
    session: AsyncSession,
    pickup: Pickup,
    from_status: str | None,
    to_status: str,
    actor: Actor,
    now: datetime,
) -> None:
    assert pickup.id is not None
    await _write(
        session,
        partial(
            writes.log_line,
            pickup_id=pickup.id,
            installation_id=pickup.installation_id,
            from_status=from_status,
            to_status=to_status,
            actor=actor,
            now=now,
        ),
    )


async def _write(session: AsyncSession, work: Callable[[Connection], T]) -> T:
    """Run one of the lifecycle's writes (`writes.py`) inside this session's transaction,
    after what the session itself has pending."""
    await _flush_pending(session)
    return await session.run_sync(lambda sync: work(sync.connection()))


async def _flush_pending(session: AsyncSession) -> None:
    """What autoflush would do before an ORM statement: plain table statements skip it."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


async def _event(session: AsyncSession, pickup: Pickup, chime: bool = False) -> BoardEvent:
    """The event for a change of `pickup` made by this session, carrying its row."""
    assert pickup.id is not None
    event = await _write(session, partial(writes.event_for, pickup_id=pickup.id, chime=chime))
    note_seq(session, event.installation_id, event.seq)
    return event


async def _written(session: AsyncSession, pickup: Pickup, written: writes.Written) -> Outcome:
    """Bring the session's `pickup` in line with what a Core write left, and say so."""
    row = written.row
    set_committed_value(pickup, "status", row.status)
    set_committed_value(pickup, "announced_at", row.announced_at)
    set_committed_value(pickup, "eta", row.eta)
    set_committed_value(pickup, "gps_minutes", row.gps_minutes)
    set_committed_value(pickup, "dismiss_reason", row.reason)
    if written.updated_at is not None:
        set_committed_value(pickup, "updated_at", written.updated_at)
    for event in written.events:
        note_seq(session, event.installation_id, event.seq)
    if written.changed:
        # A departure checked the child out with a plain UPDATE: loaded rows read it again.
        for obj in list(session.identity_map.values()):
            if isinstance(obj, Attendance) and obj.child_id == row.child_id:
                await session.refresh(obj)
    return Outcome(pickup, written.changed, list(written.events))


async def announce_facts(
    session: AsyncSession,
    child: Child,
    guardian: Guardian,
    installation: Installation,
    now: datetime,
) -> rules.AnnounceFacts:
    assert child.id is not None and guardian.id is not None
    attendance = await today_attendance(session, child, installation, now)
    is_guardian, has_live = (
        await session.execute(
            select(
                exists().where(
                    col(ChildGuardian.child_id) == child.id,
                    col(ChildGuardian.guardian_id) == guardian.id,
                ),
                exists().where(
                    col(Pickup.child_id) == child.id,
                    col(Pickup.status).in_(rules.LIVE),
                ),
            )
        )
    ).one()
    return rules.AnnounceFacts(
        pickup_enabled=child.pickup_enabled and child.agreement_active and child.active,
        present=attendance is not None and attendance.checked_out_at is None,
        departed_today=attendance is not None and attendance.checked_out_at is not None,
        photo_pending=child.photo_pending or guardian.photo_pending,
        has_live_pickup=bool(has_live),
        is_guardian=bool(is_guardian) and guardian.organization_id == child.organization_id,
    )


async def _insert_pickup(session: AsyncSession, pickup: Pickup) -> None:
    session.add(pickup)
    try:
        await session.flush()
    except IntegrityError as exc:
        # The partial unique index caught a second live pickup for the same child
        # (a double tap, or two guardians at once).
        raise RuleError(Refusal.ALREADY_ANNOUNCED) from exc


async def announce_eta(
    session: AsyncSession,
    *,
    child: Child,
    guardian: Guardian,
    installation: Installation,
    arrival: time,
    actor: Actor,
    now: datetime,
    emergency: bool = False,
) -> Outcome:
    """A guardian gives an arrival time (writes.announce_eta, within this session);
    `emergency`: through the emergency flow (no call window, no preparation time)."""
    assert child.id is not None and guardian.id is not None
    written = await _write(
        session,
        partial(
            writes.announce_eta,
            child_id=child.id,
            guardian_id=guardian.id,
            arrival=arrival,
            actor=actor,
            now=now,
            emergency=emergency,
        ),
    )
    pickup = await session.get(Pickup, written.row.id)
    assert pickup is not None
    return await _written(session, pickup, written)


async def forget_positions(session: AsyncSession, pickup_id: int | None) -> None:
    """GPS positions are kept only while the trip lasts: called when a pickup is over."""
    assert pickup_id is not None
    await _write(session, partial(writes.forget_positions, pickup_id=pickup_id))


async def _staff_write(
    session: AsyncSession,
    pickup: Pickup,
    write: Callable[..., writes.Written | None],
    **arguments: Any,
) -> Outcome:
    """One of the staff's compare-and-set writes (`writes.staff_step`, `dismiss`, `undo`) on a
    pickup the caller loaded within its organization, inside this session."""
    assert pickup.id is not None
    written = await _write(
        session,
        partial(write, pickup_id=pickup.id, organization_id=pickup.organization_id, **arguments),
    )
    assert written is not None  # loaded within its organization: the row is there
    return await _written(session, pickup, written)


async def advance(
    session: AsyncSession,
    pickup: Pickup,
    *,
    target: PickupStatus,
    expected: PickupStatus | None,
    actor: Actor,
    now: datetime,
    handed_to: int | None = None,
) -> Outcome:
    """A staff button (Appeler, Prêt, Départ): writes.staff_step, within this session.

    With `expected` given (the board's buttons) a lost race is not an error: the outcome says
    `changed=False` and carries the current state. Without it the step must be the next one,
    or RuleError(NOT_NEXT_STEP).
    """
    return await _staff_write(
        session,
        pickup,
        writes.staff_step,
        target=target,
        expected=expected,
        actor=actor,
        now=now,
        handed_to=handed_to,
    )


async def dismiss(
    session: AsyncSession,
    pickup: Pickup,
    *,
    reason: str,
    expected: PickupStatus,
    actor: Actor,
    now: datetime,
) -> Outcome:
    """Staff remove an alert, with a reason (writes.dismiss, within this session)."""
    return await _staff_write(
        session, pickup, writes.dismiss, reason=reason, expected=expected, actor=actor, now=now
    )


async def undo(
    session: AsyncSession,
    pickup: Pickup,
    *,
    expected: PickupStatus,
    actor: Actor,
    now: datetime,
) -> Outcome:
    """« Annuler »: the pickup's last staff step or dismissal taken back (writes.undo)."""
    return await _staff_write(session, pickup, writes.undo, expected=expected, actor=actor, now=now)


async def cancel(session: AsyncSession, pickup: Pickup, *, actor: Actor, now: datetime) -> Outcome:
    assert pickup.id is not None
    written = await _write(
        session, partial(writes.cancel, pickup_id=pickup.id, actor=actor, now=now)
    )
    return await _written(session, pickup, written)


async def step_from(
    session: AsyncSession,
    pickup: Pickup,
    expected: PickupStatus,
    target: PickupStatus,
    now: datetime,
    *,
    actor: Actor = SYSTEM,
    chime: bool = False,
) -> list[BoardEvent]:
    """writes.step_from, within this session: the events, none when another worker (or the
    parent, or staff) moved the pickup first."""
    assert pickup.id is not None
    written = await _write(
        session,
        partial(
            writes.step_from,
            pickup_id=pickup.id,
            expected=expected,
            target=target,
            now=now,
            actor=actor,
            chime=chime,
        ),
    )
    return [] if written is None else list((await _written(session, pickup, written)).events)


async def promote_due(session: AsyncSession, now: datetime) -> list[BoardEvent]:
    """Arrivals whose moment came become board alerts, each exactly once even with several
    workers racing (compare-and-set)."""
    due = (
        (
            await session.execute(
                select(Pickup)
                .where(
                    col(Pickup.status) == S.SCHEDULED,
                    col(Pickup.announce_at) <= now,
                )
                # Every worker takes row locks in the same order: no deadlock between them.
                .order_by(col(Pickup.id))
            )
        )
        .scalars()
        .all()
    )
    # A GPS trip whose phone stopped sharing keeps its last estimate: when that estimate says
    # the parent is within the preparation time, alert the board rather than wait for ever.
    tracking = (
        await session.execute(
            select(Pickup, col(Installation.preparation_minutes))
            .join(Installation, col(Installation.id) == col(Pickup.installation_id))
            .where(col(Pickup.status) == S.TRACKING, col(Pickup.eta).is_not(None))
            .order_by(col(Pickup.id))
        )
    ).all()
    candidates = [(p, S.SCHEDULED) for p in due] + [
        (p, S.TRACKING)
        for p, prep in tracking
        if p.eta is not None and p.eta - timedelta(minutes=prep) <= now
    ]
    events: list[BoardEvent] = []
    for pickup, expected in candidates:
        events += await step_from(session, pickup, expected, S.ANNOUNCED, now, chime=True)
    return events


async def expire_past(session: AsyncSession, now: datetime) -> list[BoardEvent]:
    """Live pickups of a day that has ended (installation's local midnight) expire."""
    rows = (
        await session.execute(
            select(Pickup, col(Installation.timezone))
            .join(Installation, col(Installation.id) == col(Pickup.installation_id))
            .where(col(Pickup.status).in_(rules.LIVE))
            .order_by(col(Pickup.id))
        )
    ).all()
    events: list[BoardEvent] = []
    for pickup, tz in rows:
        if rules.is_expired(pickup.day, tz, now):
            events += await step_from(session, pickup, S(pickup.status), S.EXPIRED, now)
    return events


async def cancel_live_for_child(
    session: AsyncSession, child: Child, *, actor: Actor, now: datetime
) -> list[BoardEvent]:
    """A child checked out by other means (marked absent) keeps no live alert."""
    pickups = (
        (
            await session.execute(
                select(Pickup).where(
                    col(Pickup.child_id) == child.id,
                    col(Pickup.status).in_(rules.LIVE),
                )
            )
        )
        .scalars()
        .all()
    )
    events: list[BoardEvent] = []
    for pickup in pickups:
        events.extend((await cancel(session, pickup, actor=actor, now=now)).events)
    return events


async def change_eta(
    session: AsyncSession,
    pickup: Pickup,
    *,
    installation: Installation,
    arrival: time,
    actor: Actor,
    now: datetime,
) -> Outcome:
    """The parent gives a new arrival time. Before the alert, the alert moment moves with it
    (and fires at once if now due); after it, the board just shows the new time."""
    if pickup.mode != PickupMode.ETA:
        raise RuleError(Refusal.FINISHED, current=pickup.status)
    current = S(pickup.status)
    if current not in {S.SCHEDULED, S.ANNOUNCED}:
        raise RuleError(Refusal.FINISHED, current=current)
    plan = rules.plan_eta(
        now,
        arrival,
        installation.timezone,
        installation.preparation_minutes,
        installation.call_window_start,
        installation.call_window_end,
    )
    target = S.ANNOUNCED if current == S.ANNOUNCED else plan.status
    values: dict[str, object] = {
        "eta": plan.eta,
        "announce_at": plan.announce_at,
        "status": target,
        "updated_at": now,
    }
    if target == S.ANNOUNCED and current == S.SCHEDULED:
        values["announced_at"] = now
    result = await session.execute(
        update(Pickup)
        .where(col(Pickup.id) == pickup.id, col(Pickup.status) == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        await session.refresh(pickup)
        raise RuleError(Refusal.FINISHED, current=pickup.status)
    await session.refresh(pickup)
    await _log(session, pickup, current, target, actor, now)
    chime = current == S.SCHEDULED and target == S.ANNOUNCED
    return Outcome(pickup, True, [await _event(session, pickup, chime=chime)])
