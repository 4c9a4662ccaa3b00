"""Pure rules of the pickup lifecycle. Nothing here reads the wall clock or the database:
every function takes the moment it reasons about, so tests set the time of day.

    scheduled ──(ETA − prep time reached)──▶ announced ─▶ called ─▶ ready ─▶ departed
    tracking  ──(GPS: arrival ≤ prep time)──▶ announced
    any live state ─▶ cancelled (parent) / expired (end of day)
    on the board (announced, called, ready) ─▶ dismissed (staff, with a reason)

A staff step or a dismissal can be undone for UNDO_WINDOW: the undo is a transition back to
the status the step left, compare-and-set like the others, and logged like them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from ..core.models import PickupStatus

S = PickupStatus

LIVE = frozenset({S.SCHEDULED, S.TRACKING, S.ANNOUNCED, S.CALLED, S.READY})
ON_BOARD = frozenset({S.ANNOUNCED, S.CALLED, S.READY})
FINAL = frozenset({S.DEPARTED, S.CANCELLED, S.EXPIRED, S.DISMISSED})

# The staff buttons, in the only order they may be pressed: Appeler → Prêt → Départ.
STAFF_NEXT: dict[PickupStatus, PickupStatus] = {
    S.ANNOUNCED: S.CALLED,
    S.CALLED: S.READY,
    S.READY: S.DEPARTED,
}

STAFF_STEPS = (S.CALLED, S.READY, S.DEPARTED)

# How long a staff step or a dismissal can be undone (the toast's « Annuler »).
UNDO_WINDOW = timedelta(seconds=10)

# How far in the past a given arrival time may be before it is refused as a mistake.
PAST_ARRIVAL_TOLERANCE = timedelta(minutes=15)


class Refusal(StrEnum):
    """Why an announcement or a transition is refused; each has a plain-words message."""

    OUTSIDE_WINDOW = "outside_window"
    ARRIVAL_PASSED = "arrival_passed"
    CHILD_ABSENT = "child_absent"
    CHILD_DEPARTED = "child_departed"
    PICKUP_DISABLED = "pickup_disabled"
    PHOTO_PENDING = "photo_pending"
    ALREADY_ANNOUNCED = "already_announced"
    NOT_GUARDIAN = "not_guardian"
    NOT_NEXT_STEP = "not_next_step"
    FINISHED = "finished"
    BAD_TIME = "bad_time"
    BAD_POSITION = "bad_position"  # GPS: a fix no phone can honestly send (eta.validate)
    SHARING_OVER = "sharing_over"  # GPS: the trip is older than the promised limit
    NOT_ON_BOARD = "not_on_board"  # dismissing what is no board alert (upcoming, over)
    NOT_UNDOABLE = "not_undoable"  # nothing to undo: the last change was not a staff step
    UNDO_EXPIRED = "undo_expired"  # the step is older than UNDO_WINDOW
    BAD_REASON = "bad_reason"  # a dismissal without one of the known reasons
    NOT_FAMILY = "not_family"  # a departure handed to an adult not linked to the child


class DismissReason(StrEnum):
    """Why staff remove an alert from the boards; the parent is told it in plain words."""

    ALREADY_LEFT = "already_left"  # the child already went home with someone else
    NOT_HERE = "not_here"  # the child is not at the daycare (outing, absent)
    MISTAKE = "mistake"  # announced by mistake, or twice
    CALL_US = "call_us"  # anything else: the daycare will get in touch


class RuleError(Exception):
    def __init__(self, refusal: Refusal, **details: object) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.details = details


def staff_next(status: PickupStatus | str) -> PickupStatus | None:
    """The one status a staff button may move this pickup to, or None."""
    return STAFF_NEXT.get(S(status))


def check_staff_step(current: PickupStatus | str, target: PickupStatus | str) -> None:
    """Appeler → Prêt → Départ, only in that order; a skipped or repeated step is refused."""
    current, target = S(current), S(target)
    if current in FINAL:
        raise RuleError(Refusal.FINISHED, current=current)
    if STAFF_NEXT.get(current) != target:
        raise RuleError(Refusal.NOT_NEXT_STEP, current=current, target=target)


def check_dismiss(current: PickupStatus | str, reason: str) -> DismissReason:
    """Only an alert on the board is dismissed, and only with one of the known reasons."""
    current = S(current)
    try:
        known = DismissReason(reason)
    except ValueError:
        raise RuleError(Refusal.BAD_REASON, reason=reason) from None
    if current in FINAL:
        raise RuleError(Refusal.FINISHED, current=current)
    if current not in ON_BOARD:
        raise RuleError(Refusal.NOT_ON_BOARD, current=current)
    return known


# What an undo may take back: each staff step, and a dismissal from any board status.
UNDOABLE = frozenset(
    {*((before, after) for before, after in STAFF_NEXT.items())}
    | {(before, S.DISMISSED) for before in ON_BOARD}
)


@dataclass(frozen=True)
class LoggedStep:
    """The last line of a pickup's release log, as an undo needs it."""

    from_status: PickupStatus | str | None
    to_status: PickupStatus | str
    at: datetime
    by_staff: bool
    is_undo: bool


def undo_target(
    current: PickupStatus | str, last: LoggedStep | None, now: datetime
) -> PickupStatus:
    """The status an undo returns the pickup to: the one its last step left, when that step
    is the pickup's current state, was a staff step or a dismissal (not an undo itself),
    and is at most UNDO_WINDOW old. RuleError otherwise."""
    current = S(current)
    if (
        last is None
        or last.from_status is None
        or S(last.to_status) != current
        or not last.by_staff
        or last.is_undo
        or (S(last.from_status), current) not in UNDOABLE
    ):
        raise RuleError(Refusal.NOT_UNDOABLE, current=current)
    if _utc(now) - _utc(last.at) > UNDO_WINDOW:
        raise RuleError(Refusal.UNDO_EXPIRED, current=current)
    return S(last.from_status)


def undo_deadline(at: datetime) -> datetime:
    """Until when a step made at `at` can be undone."""
    return at + UNDO_WINDOW


def can_cancel(current: PickupStatus | str) -> bool:
    return S(current) in LIVE


def in_call_window(arrival: time, start: time, end: time) -> bool:
    """The window includes both ends, to the minute (23:59 means up to 23:59:59).

    A window whose end is before its start wraps past midnight (e.g. 22:00–02:00).
    """
    arrival = arrival.replace(second=0, microsecond=0)
    if start <= end:
        return start <= arrival <= end
    return arrival >= start or arrival <= end


def parse_hhmm(value: str) -> time:
    """Parse "HH:MM" (24 h). Raises RuleError(BAD_TIME) on anything else."""
    text = value.strip()
    parts = text.split(":")
    # ASCII digits only, and two for the minutes: "17:5" may have meant 17:50, so ask again.
    if (
        len(parts) != 2
        or not all(p.isascii() and p.isdigit() for p in parts)
        or not 1 <= len(parts[0]) <= 2
        or len(parts[1]) != 2
    ):
        raise RuleError(Refusal.BAD_TIME, value=value)
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise RuleError(Refusal.BAD_TIME, value=value)
    return time(hour, minute)


def _utc(moment: datetime) -> datetime:
    """Aware datetimes sharing one tzinfo compare and subtract by wall clock, ignoring DST
    (and `fold`); in UTC they compare and subtract as instants."""
    if moment.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
    return moment.astimezone(UTC)


def local_day(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def arrival_instant(now: datetime, arrival: time, tz: str) -> datetime:
    """Today's `arrival` (local time of the installation) as an aware instant."""
    zone = ZoneInfo(tz)
    day = now.astimezone(zone).date()
    return datetime.combine(day, arrival, tzinfo=zone)


def end_of_day(day: date, tz: str) -> datetime:
    """The instant a day's pickups expire: the installation's next local midnight."""
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=ZoneInfo(tz))


def is_expired(day: date, tz: str, now: datetime) -> bool:
    return now >= end_of_day(day, tz)


@dataclass(frozen=True)
class EtaPlan:
    eta: datetime
    announce_at: datetime
    status: PickupStatus  # SCHEDULED, or ANNOUNCED when the alert is already due


def plan_eta(
    now: datetime,
    arrival: time,
    tz: str,
    preparation_minutes: int,
    window_start: time,
    window_end: time,
    *,
    emergency: bool = False,
) -> EtaPlan:
    """Decide when an ETA announcement alerts the board.

    The alert fires at ETA − preparation time, or at once when that moment has passed.
    Announcing *before* the window for an arrival inside it is allowed (seed guide).
    During a real emergency closure (`emergency`) there is no call window and no preparation
    time: the alert reaches the board at once.
    """
    if not emergency and not in_call_window(arrival, window_start, window_end):
        raise RuleError(Refusal.OUTSIDE_WINDOW, start=window_start, end=window_end)
    eta = arrival_instant(now, arrival, tz)
    if _utc(eta) < _utc(now) - PAST_ARRIVAL_TOLERANCE:
        raise RuleError(Refusal.ARRIVAL_PASSED, eta=eta)
    if emergency:
        return EtaPlan(eta=eta, announce_at=now, status=S.ANNOUNCED)
    # Subtract in UTC: local wall-clock arithmetic is an hour off across a DST change.
    announce_at = (_utc(eta) - timedelta(minutes=preparation_minutes)).astimezone(ZoneInfo(tz))
    status = S.ANNOUNCED if _utc(announce_at) <= _utc(now) else S.SCHEDULED
    return EtaPlan(eta=eta, announce_at=announce_at, status=status)


def is_due(status: PickupStatus | str, announce_at: datetime | None, now: datetime) -> bool:
    """A scheduled pickup becomes a board alert once its announce moment is reached."""
    return S(status) == S.SCHEDULED and announce_at is not None and _utc(announce_at) <= _utc(now)


def gps_alert_due(minutes_to_arrival: float, preparation_minutes: int) -> bool:
    """GPS mode: the board is alerted when the parent is within the preparation time."""
    return minutes_to_arrival <= preparation_minutes


@dataclass(frozen=True)
class AnnounceFacts:
    """What the rules need to know about a child to accept an announcement."""

    pickup_enabled: bool
    present: bool
    departed_today: bool
    photo_pending: bool
    has_live_pickup: bool
    is_guardian: bool


def check_can_announce(facts: AnnounceFacts) -> None:
    """Raise the first reason a guardian may not announce for this child, most useful first."""
    if not facts.is_guardian:
        raise RuleError(Refusal.NOT_GUARDIAN)
    if not facts.pickup_enabled:
        raise RuleError(Refusal.PICKUP_DISABLED)
    if facts.photo_pending:
        raise RuleError(Refusal.PHOTO_PENDING)
    if facts.departed_today:
        raise RuleError(Refusal.CHILD_DEPARTED)
    if not facts.present:
        raise RuleError(Refusal.CHILD_ABSENT)
    if facts.has_live_pickup:
        raise RuleError(Refusal.ALREADY_ANNOUNCED)


def waiting_minutes(announced_at: datetime | None, now: datetime) -> int:
    """Whole minutes since the board was alerted (0 when not yet alerted)."""
    if announced_at is None:
        return 0
    return max(0, int((_utc(now) - _utc(announced_at)).total_seconds() // 60))
