"""Use-cases of the pickup lifecycle: load facts, apply the pure rules, write the change and
its log line, and return the board events to publish once the caller has committed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import cast

from sqlalchemy import Table, delete, exists, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from ..attendance import check_out, today_attendance
from ..models import (
    ActorKind,
    Child,
    ChildGuardian,
    Guardian,
    Installation,
    Pickup,
    PickupEvent,
    PickupMode,
    PickupStatus,
    TripPosition,
)
from . import eta as eta_estimate
from . import rules
from .events import BoardEvent, next_seq
from .rules import Refusal, RuleError

S = PickupStatus


@dataclass(frozen=True)
class Actor:
    """Who caused a transition, for the release log."""

    kind: ActorKind
    id: int | None
    name: str
    device: str = ""


SYSTEM = Actor(ActorKind.SYSTEM, None, "Relais")

# The hot writes (a transition and its log line) go through the tables directly: one plain
# statement each, without the ORM's bulk-update and unit-of-work machinery.
PICKUP_TABLE = cast(Table, inspect(Pickup).local_table)
PICKUP_EVENT_TABLE = cast(Table, inspect(PickupEvent).local_table)
_PICKUP_COLUMNS = tuple(PICKUP_TABLE.c)
_PICKUP_KEYS = tuple(inspect(Pickup).get_property_by_column(c).key for c in _PICKUP_COLUMNS)
_INSERT_EVENT = insert(PICKUP_EVENT_TABLE)


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
    await _flush_pending(session)
    await session.execute(
        _INSERT_EVENT,
        {
            "pickup_id": pickup.id,
            "installation_id": pickup.installation_id,
            "from_status": from_status,
            "to_status": to_status,
            "at": now,
            "actor_kind": actor.kind,
            "actor_id": actor.id,
            "actor_name": actor.name[:200],
            "device": actor.device[:300],
        },
    )


async def _flush_pending(session: AsyncSession) -> None:
    """What autoflush would do before an ORM statement: plain table statements skip it."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


async def _event(
    session: AsyncSession,
    installation_id: int,
    kind: str,
    groups: tuple[int, ...] = (),
    chime: bool = False,
    pickup_id: int | None = None,
    pickup: Pickup | None = None,
) -> BoardEvent:
    """The event for a change, numbered in the installation's sequence. With `pickup`, it
    names that pickup and its child (boards chime for it, its family's page updates)."""
    seq = await next_seq(session, installation_id)
    children: tuple[int, ...] = ()
    if pickup is not None:
        pickup_id = pickup.id
        children = (pickup.child_id,)
    return BoardEvent(installation_id, seq, kind, groups, chime, pickup_id, children)


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
) -> Outcome:
    rules.check_can_announce(await announce_facts(session, child, guardian, installation, now))
    plan = rules.plan_eta(
        now,
        arrival,
        installation.timezone,
        installation.preparation_minutes,
        installation.call_window_start,
        installation.call_window_end,
    )
    assert child.id is not None and guardian.id is not None and installation.id is not None
    pickup = Pickup(
        organization_id=child.organization_id,
        installation_id=installation.id,
        child_id=child.id,
        guardian_id=guardian.id,
        day=rules.local_day(now, installation.timezone),
        mode=PickupMode.ETA,
        status=plan.status,
        eta=plan.eta,
        announce_at=plan.announce_at,
        created_at=now,
        updated_at=now,
        announced_at=now if plan.status == S.ANNOUNCED else None,
    )
    await _insert_pickup(session, pickup)
    await _log(session, pickup, None, pickup.status, actor, now)
    chime = plan.status == S.ANNOUNCED
    return Outcome(
        pickup,
        True,
        [await _event(session, installation.id, "pickup", chime=chime, pickup=pickup)],
    )


async def announce_gps(
    session: AsyncSession,
    *,
    child: Child,
    guardian: Guardian,
    installation: Installation,
    latitude: float,
    longitude: float,
    actor: Actor,
    now: datetime,
) -> Outcome:
    """Announce a GPS arrival from one position taken now (the API's mode "gps"): a trip
    whose first fix is this one. See trips.start_trip."""
    from . import trips  # trips builds on this module's helpers

    position = eta_estimate.Position(latitude, longitude, now)
    return await trips.start_trip(
        session,
        child=child,
        guardian=guardian,
        installation=installation,
        position=position,
        actor=actor,
        now=now,
    )


async def forget_positions(session: AsyncSession, pickup_id: int | None) -> None:
    """GPS positions are kept only while the trip lasts: called when a pickup is over."""
    await session.execute(delete(TripPosition).where(col(TripPosition.pickup_id) == pickup_id))


async def _compare_and_set(
    session: AsyncSession, pickup: Pickup, expected: str, target: str, now: datetime
) -> bool:
    """Move `pickup` from `expected` to `target` only if nobody moved it first. When it
    moved, `pickup` holds the row as the UPDATE left it (RETURNING: no second read)."""
    values: dict[str, object] = {"status": target, "updated_at": now}
    if target == S.ANNOUNCED:
        values["announced_at"] = now
    await _flush_pending(session)
    row = (
        await session.execute(
            update(PICKUP_TABLE)
            .where(PICKUP_TABLE.c.id == pickup.id, PICKUP_TABLE.c.status == expected)
            .values(**values)
            .returning(*_PICKUP_COLUMNS)
        )
    ).first()
    if row is None:
        return False
    for key, value in zip(_PICKUP_KEYS, row, strict=True):
        set_committed_value(pickup, key, value)
    return True


async def advance(
    session: AsyncSession,
    pickup: Pickup,
    *,
    target: PickupStatus,
    expected: PickupStatus | None,
    actor: Actor,
    now: datetime,
) -> Outcome:
    """A staff button (Appeler, Prêt, Départ). Compare-and-set on (id, expected status).

    With `expected` given (the board's buttons) a lost race is not an error: the outcome says
    `changed=False` and carries the current state. Without it (the API) the step must be the
    next one, or RuleError(NOT_NEXT_STEP).
    """
    current = S(pickup.status)
    if expected is not None and current != expected:
        return Outcome(pickup, False)
    rules.check_staff_step(current, target)
    if not await _compare_and_set(session, pickup, current, target, now):
        await session.refresh(pickup)
        if expected is None:
            raise RuleError(Refusal.NOT_NEXT_STEP, current=pickup.status, target=target)
        return Outcome(pickup, False)
    await _log(session, pickup, current, target, actor, now)
    groups: tuple[int, ...] = ()
    if target == S.DEPARTED:
        child, installation = (
            await session.execute(
                # The pickup's own installation (the child may have moved since): by id.
                select(Child, Installation)
                .join(Installation, col(Installation.id) == pickup.installation_id)
                .where(col(Child.id) == pickup.child_id)
            )
        ).one()
        await check_out(session, child, installation, now)
        groups = (child.group_id,)
        await forget_positions(session, pickup.id)
    return Outcome(
        pickup,
        True,
        [await _event(session, pickup.installation_id, "pickup", groups=groups, pickup=pickup)],
    )


async def cancel(session: AsyncSession, pickup: Pickup, *, actor: Actor, now: datetime) -> Outcome:
    current = S(pickup.status)
    if not rules.can_cancel(current):
        raise RuleError(Refusal.FINISHED, current=current)
    if not await _compare_and_set(session, pickup, current, S.CANCELLED, now):
        await session.refresh(pickup)
        raise RuleError(Refusal.FINISHED, current=pickup.status)
    await _log(session, pickup, current, S.CANCELLED, actor, now)
    await forget_positions(session, pickup.id)
    return Outcome(
        pickup, True, [await _event(session, pickup.installation_id, "pickup", pickup=pickup)]
    )


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
        if await _compare_and_set(session, pickup, expected, S.ANNOUNCED, now):
            await _log(session, pickup, expected, S.ANNOUNCED, SYSTEM, now)
            events.append(
                await _event(session, pickup.installation_id, "pickup", chime=True, pickup=pickup)
            )
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
        if not rules.is_expired(pickup.day, tz, now):
            continue
        current = pickup.status
        if await _compare_and_set(session, pickup, current, S.EXPIRED, now):
            await _log(session, pickup, current, S.EXPIRED, SYSTEM, now)
            await forget_positions(session, pickup.id)
            events.append(await _event(session, pickup.installation_id, "pickup", pickup=pickup))
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
    event = await _event(session, pickup.installation_id, "pickup", chime=chime, pickup=pickup)
    return Outcome(pickup, True, [event])
