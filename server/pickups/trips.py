"""GPS trips: a guardian's phone shares its position on the way to the daycare; the board is
alerted when the estimated arrival is within the installation's preparation time.

The web layer calls, in this order:

- `start_trip` once per child when the parent taps "I'm coming (GPS)" (siblings: once per
  child, with the same first position; a refusal for one child does not stop the others);
- `record_position_for_guardian` for every position the page sends (the browser's
  watchPosition): ONE phone, ONE trip, every live GPS pickup of that guardian today moves
  with it, so two siblings are alerted together. `record_position` does the same for one
  pickup;
- `end_trip` when the phone stops sharing (page closed, parent pressed stop). Departure,
  cancel and end-of-day expiry forget the positions by themselves (service.py).

The background work (server/scheduler.py) calls `fall_back_silent_trips`: a trip without a fix
for eta.FALLBACK_AFTER, or with none kept, runs on its predicted time (boards say « heure
prévue 17:42 ») until a fix comes again; boards say « signal perdu » before that by themselves.

Like service.py, every use-case takes the session and `now`, changes rows without committing,
and returns the board events the caller publishes *after* commit. Positions are stored only
while the trip lasts, and only the last `eta.MAX_AGE` of them: the estimate reads no more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import (
    ActorKind,
    Child,
    Guardian,
    Installation,
    Pickup,
    PickupMode,
    PickupStatus,
    TripPosition,
)
from . import eta, rules
from .eta import Position
from .events import BoardEvent
from .rules import Refusal, RuleError
from .service import (
    Actor,
    Outcome,
    _event,
    _insert_pickup,
    _log,
    announce_facts,
    forget_positions,
    step_from,
)
from .writes import REAL_EMERGENCY

S = PickupStatus

# The displayed "GPS ~N min" keeps its value while the estimate hovers within this many
# minutes of a boundary: a parked phone's jitter must not flip 8 ↔ 9 and send an event a fix.
DISPLAY_HYSTERESIS_MIN = 0.1

__all__ = [
    "Position",
    "end_trip",
    "fall_back_silent_trips",
    "forget_overdue_positions",
    "forget_positions",
    "live_trips",
    "overdue_positions",
    "record_position",
    "record_position_for_guardian",
    "start_trip",
]

# The parent page promises to share the position for 60 minutes at most; the server keeps
# that promise too (a page left open, or a client that does not stop, is not followed).
MAX_TRIP = timedelta(minutes=60)


def _minutes_away(positions: Sequence[Position], installation: Installation) -> float:
    if installation.latitude is None or installation.longitude is None:
        return 0.0  # no coordinates to measure against: alert at once rather than never
    return eta.estimate(positions, installation.latitude, installation.longitude).minutes


def _displayed_minutes(minutes: float, previous: int | None) -> int:
    shown = math.ceil(minutes)
    if previous is not None and abs(shown - previous) == 1:
        boundary = min(shown, previous)
        if abs(minutes - boundary) < DISPLAY_HYSTERESIS_MIN:
            return previous
    return shown


def _row(pickup_id: int, position: Position) -> TripPosition:
    return TripPosition(
        pickup_id=pickup_id,
        at=position.at,
        latitude=position.latitude,
        longitude=position.longitude,
        accuracy_m=position.accuracy_m,
    )


async def start_trip(
    session: AsyncSession,
    *,
    child: Child,
    guardian: Guardian,
    installation: Installation,
    position: Position,
    actor: Actor,
    now: datetime,
) -> Outcome:
    """Announce a GPS arrival from the first position: `tracking`, or `announced` (with a
    chime) at once when already within the preparation time or during a real emergency
    closure. The same refusals as an announcement by time, plus BAD_POSITION; the estimated
    arrival must fall inside the call window (not during a real emergency)."""
    eta.validate(position, now)
    rules.check_can_announce(await announce_facts(session, child, guardian, installation, now))
    minutes = _minutes_away([position], installation)
    eta_at = now + timedelta(minutes=minutes)
    local_arrival = eta_at.astimezone(ZoneInfo(installation.timezone)).time()
    # During a real emergency closure there (not a drill), the emergency flow: no call window,
    # no preparation time — the alert is on the board at once, as for an arrival time.
    emergency = bool(
        (
            await session.execute(REAL_EMERGENCY, {"emergency_installation": installation.id})
        ).scalar()
    )
    if not emergency and not rules.in_call_window(
        local_arrival, installation.call_window_start, installation.call_window_end
    ):
        raise RuleError(
            Refusal.OUTSIDE_WINDOW,
            start=installation.call_window_start,
            end=installation.call_window_end,
        )
    due = emergency or rules.gps_alert_due(minutes, installation.preparation_minutes)
    status = S.ANNOUNCED if due else S.TRACKING
    assert child.id is not None and guardian.id is not None and installation.id is not None
    pickup = Pickup(
        organization_id=child.organization_id,
        installation_id=installation.id,
        child_id=child.id,
        guardian_id=guardian.id,
        day=rules.local_day(now, installation.timezone),
        mode=PickupMode.GPS,
        status=status,
        eta=eta_at,
        gps_minutes=math.ceil(minutes),
        created_at=now,
        updated_at=now,
        announced_at=now if due else None,
    )
    await _insert_pickup(session, pickup)
    assert pickup.id is not None
    await _log(session, pickup, None, status, actor, now)
    session.add(_row(pickup.id, position))
    await session.flush()
    return Outcome(
        pickup,
        True,
        [await _event(session, pickup, chime=due)],
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
    whose first fix is this one."""
    return await start_trip(
        session,
        child=child,
        guardian=guardian,
        installation=installation,
        position=Position(latitude, longitude, now),
        actor=actor,
        now=now,
    )


async def _guardian_actor(session: AsyncSession, pickup: Pickup) -> Actor:
    guardian = await session.get(Guardian, pickup.guardian_id)
    name = guardian.full_name if guardian is not None else ""
    return Actor(ActorKind.GUARDIAN, pickup.guardian_id, name)


async def record_position(
    session: AsyncSession,
    pickup: Pickup,
    position: Position,
    now: datetime,
    *,
    actor: Actor | None = None,
) -> list[BoardEvent]:
    """One more position for a GPS pickup: re-estimate, and alert the board (chime) the first
    time the arrival is within the preparation time, exactly once even with several workers.

    Otherwise an event goes out only when the displayed "GPS ~N min" changes, when the fix
    starts a new eta.FIX_STEP (boards show how old the fix is), or when it ends a fallback to
    the predicted time (fall_back_silent_trips). A pickup that is over (departed, cancelled,
    expired) ignores the position and forgets the trip.
    Raises RuleError(BAD_POSITION) for an impossible position, storing nothing. `actor`
    (for the release log) defaults to the pickup's guardian.
    """
    eta.validate(position, now)
    assert pickup.id is not None
    if pickup.mode != PickupMode.GPS:
        return []  # an arrival by time has no trip
    if S(pickup.status) not in rules.LIVE or past_limit(pickup, now):
        # Over, or shared longer than the parent was promised: nothing more is kept.
        await forget_positions(session, pickup.id)
        return []
    await session.execute(
        delete(TripPosition).where(
            col(TripPosition.pickup_id) == pickup.id,
            col(TripPosition.at) < now - eta.MAX_AGE,
        )
    )
    rows = (
        (
            await session.execute(
                select(TripPosition)
                .where(col(TripPosition.pickup_id) == pickup.id)
                .order_by(col(TripPosition.at), col(TripPosition.id))
            )
        )
        .scalars()
        .all()
    )
    previous_fix = max((r.at for r in rows), default=None)
    session.add(_row(pickup.id, position))
    track = [Position(r.latitude, r.longitude, r.at, r.accuracy_m) for r in rows]
    track.append(position)
    installation = await session.get(Installation, pickup.installation_id)
    assert installation is not None
    minutes = _minutes_away(track, installation)
    due = rules.gps_alert_due(minutes, installation.preparation_minutes)
    shown = math.ceil(minutes) if due else _displayed_minutes(minutes, pickup.gps_minutes)
    previous = pickup.gps_minutes
    # A fix again after the server fell back to the predicted time: GPS minutes again.
    was_fallen_back = pickup.announce_at is not None
    # Guarded on a live status: a cancel or departure committed meanwhile wins.
    result = await session.execute(
        update(Pickup)
        .where(col(Pickup.id) == pickup.id, col(Pickup.status).in_(rules.LIVE))
        .values(
            eta=now + timedelta(minutes=minutes),
            gps_minutes=shown,
            announce_at=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(pickup)
    if not result.rowcount:  # type: ignore[attr-defined]
        await forget_positions(session, pickup.id)
        return []
    if pickup.status == S.TRACKING and due:
        # Exactly once even with several workers: none when another announced it (or it
        # ended) first.
        who = actor or await _guardian_actor(session, pickup)
        return await step_from(session, pickup, S.TRACKING, S.ANNOUNCED, now, actor=who, chime=True)
    if shown == previous and not was_fallen_back and not eta.tell_boards(previous_fix, position.at):
        return []
    return [await _event(session, pickup)]


def _silent_since(since: datetime) -> ColumnElement[bool]:
    """The live GPS pickups not fallen back yet with no fix kept since `since`."""
    recent = select(col(TripPosition.id)).where(
        col(TripPosition.pickup_id) == col(Pickup.id), col(TripPosition.at) > since
    )
    return (
        (col(Pickup.mode) == PickupMode.GPS)
        & col(Pickup.status).in_(rules.LIVE)
        & col(Pickup.announce_at).is_(None)
        & col(Pickup.eta).is_not(None)
        & ~recent.exists()
    )


async def fall_back_silent_trips(session: AsyncSession, now: datetime) -> list[BoardEvent]:
    """GPS arrivals whose phone sent nothing for eta.FALLBACK_AFTER, or stopped sharing (no
    position kept): the server falls back to the predicted time, the last estimate's arrival
    moment (`eta`). The alert becomes due at that moment minus the preparation time, as for an
    arrival given by time (service.promote_due), and boards say « heure prévue HH:MM ».

    Once per pickup even with several workers: a compare-and-set on `announce_at` still
    unset. The next fix returns the pickup to GPS minutes (record_position)."""
    silent = (
        await session.execute(
            select(col(Pickup.id), col(Pickup.eta), col(Installation.preparation_minutes))
            .join(Installation, col(Installation.id) == col(Pickup.installation_id))
            .where(_silent_since(now - eta.FALLBACK_AFTER))
            .order_by(col(Pickup.id))
        )
    ).all()
    events: list[BoardEvent] = []
    for pickup_id, arrival, preparation in silent:
        assert arrival is not None
        result = await session.execute(
            update(Pickup)
            # `eta` as read: a fix committed meanwhile moved it, and PostgreSQL re-checks the
            # row's own columns (not the positions subquery) once the fix's lock is released.
            .where(
                col(Pickup.id) == pickup_id,
                col(Pickup.eta) == arrival,
                _silent_since(now - eta.FALLBACK_AFTER),
            )
            .values(announce_at=arrival - timedelta(minutes=preparation), updated_at=now)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            pickup = await session.get(Pickup, pickup_id)
            assert pickup is not None
            await session.refresh(pickup)
            events.append(await _event(session, pickup))
    return events


async def live_trips(session: AsyncSession, guardian_id: int, now: datetime) -> list[Pickup]:
    """The guardian's GPS pickups still under way today (each in its installation's day):
    the trip the phone is sharing."""
    rows = (
        await session.execute(
            select(Pickup, col(Installation.timezone))
            .join(Installation, col(Installation.id) == col(Pickup.installation_id))
            .where(
                col(Pickup.guardian_id) == guardian_id,
                col(Pickup.mode) == PickupMode.GPS,
                col(Pickup.status).in_(rules.LIVE),
            )
            .order_by(col(Pickup.id))
        )
    ).all()
    return [pickup for pickup, tz in rows if pickup.day == rules.local_day(now, tz)]


def past_limit(pickup: Pickup, now: datetime) -> bool:
    """Whether the trip has lasted longer than the parent was promised (MAX_TRIP)."""
    return now - pickup.created_at > MAX_TRIP


def overdue_positions(now: datetime) -> ColumnElement[bool]:
    """The positions of every trip past its limit, whatever its status: a phone that went
    silent without saying it stopped is not kept either."""
    overdue = select(col(Pickup.id)).where(col(Pickup.created_at) < now - MAX_TRIP)
    return col(TripPosition.pickup_id).in_(overdue)


async def forget_overdue_positions(session: AsyncSession, now: datetime) -> int:
    """Delete `overdue_positions`: the number deleted."""
    result = await session.execute(delete(TripPosition).where(overdue_positions(now)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def record_position_for_guardian(
    session: AsyncSession,
    guardian_id: int,
    position: Position,
    now: datetime,
) -> list[BoardEvent]:
    """What the /parent page calls for each position: one phone shares ONE trip, and every
    live GPS pickup of this guardian today (siblings, even at two installations) is
    re-estimated from it. Raises RuleError(BAD_POSITION), or RuleError(SHARING_OVER) when
    every trip is past its limit, before storing anything."""
    eta.validate(position, now)
    trips = await live_trips(session, guardian_id, now)
    if trips and all(past_limit(p, now) for p in trips):
        raise RuleError(Refusal.SHARING_OVER, minutes=int(MAX_TRIP.total_seconds() // 60))
    events: list[BoardEvent] = []
    for pickup in trips:
        events.extend(await record_position(session, pickup, position, now))
    return events


async def end_trip(session: AsyncSession, pickup_id: int) -> None:
    """The phone stopped sharing (or the trip is over): forget its positions. The pickup
    keeps its last estimate and status."""
    await forget_positions(session, pickup_id)
