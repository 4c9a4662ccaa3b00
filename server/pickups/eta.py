"""Time to arrival in GPS mode: great-circle distance × a detour factor, at the speed observed
from successive positions, else a default urban speed. Pure: no clock, no database."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from statistics import median

from .rules import Refusal, RuleError

EARTH_RADIUS_M = 6_371_000.0
# Roads are longer than the straight line; 1.3 is the usual urban detour index.
DETOUR_FACTOR = 1.3
DEFAULT_SPEED_KMH = 30.0


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def valid_position(latitude: float, longitude: float) -> bool:
    return (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and -90 <= latitude <= 90
        and -180 <= longitude <= 180
    )


def minutes_to_arrival(
    latitude: float,
    longitude: float,
    dest_latitude: float,
    dest_longitude: float,
    speed_kmh: float = DEFAULT_SPEED_KMH,
) -> float:
    road_m = great_circle_m(latitude, longitude, dest_latitude, dest_longitude) * DETOUR_FACTOR
    return road_m / (speed_kmh * 1000 / 60)


# --- Estimating a trip from successive positions ---------------------------------------------
#
# A phone sends a fix every few seconds. One fix gives the distance; the speed comes from
# fixes far enough apart in time that GPS noise (a few metres to a few tens of metres) is
# small next to the distance covered. Every threshold below is a plain constant so a test
# can name it.

# Only recent movement says how fast the parent is going now.
SPEED_WINDOW = timedelta(minutes=3)
# Speed is measured between fixes at least this far apart: 20 m of jitter over 30 s is
# 2.4 km/h, below MIN_MOVING_KMH, so a parked phone never looks like it is driving.
SPEED_BASELINE = timedelta(seconds=30)
# Movements smaller than this (or than the fixes' reported accuracy) are noise.
JITTER_FLOOR_M = 15.0
# Slower than this between two fixes is standing still (a red light, a parked car).
MIN_MOVING_KMH = 3.0
# Faster than this between two fixes is a bad fix (a jump to a cell tower), not a car.
MAX_PLAUSIBLE_KMH = 200.0
# Two consecutive fixes that agree with each other but not with the track: the track was
# the mistake (its first fix was bad), so the estimate restarts from them.
CONFIRMING_FIXES = 2
# The speed used for the estimate stays in a sane urban range, walking to highway.
MIN_SPEED_KMH = 5.0
MAX_SPEED_KMH = 90.0
# Moving away: farther from the daycare than LOOKBACK ago, by more than noise.
AWAY_LOOKBACK = timedelta(seconds=60)
AWAY_MARGIN_M = 50.0

# What `validate` accepts.
MAX_ACCURACY_M = 5_000.0
MAX_FUTURE = timedelta(minutes=2)  # phone clocks run a little fast
MAX_AGE = timedelta(minutes=10)  # a fix older than this says nothing about the trip now


@dataclass(frozen=True)
class Position:
    """One fix from the phone: where, when (aware, the phone's clock), how precise (metres,
    the radius the browser reports; None when unknown)."""

    latitude: float
    longitude: float
    at: datetime
    accuracy_m: float | None = None


@dataclass(frozen=True)
class TripEstimate:
    minutes: float  # to arrival, from the latest usable fix
    speed_kmh: float  # the speed the estimate used (observed, or the default)
    moving_away: bool  # the phone is getting farther from the daycare
    remaining_m: float  # road distance left: great-circle × DETOUR_FACTOR


def validate(position: Position, now: datetime) -> None:
    """Refuse a position no phone can honestly send: RuleError(BAD_POSITION)."""

    def bad(reason: str) -> RuleError:
        return RuleError(Refusal.BAD_POSITION, reason=reason)

    if not valid_position(position.latitude, position.longitude):
        raise bad("coordinates")
    accuracy = position.accuracy_m
    if accuracy is not None and not (math.isfinite(accuracy) and 0 <= accuracy <= MAX_ACCURACY_M):
        raise bad("accuracy")
    if position.at.tzinfo is None or position.at.utcoffset() is None:
        raise bad("time")
    at, moment = position.at.astimezone(UTC), now.astimezone(UTC)
    if at > moment + MAX_FUTURE or at < moment - MAX_AGE:
        raise bad("time")


def _seconds(a: Position, b: Position) -> float:
    return (b.at - a.at).total_seconds()  # aware datetimes subtract as instants


def _distance_m(a: Position, b: Position) -> float:
    return great_circle_m(a.latitude, a.longitude, b.latitude, b.longitude)


def _noise_m(a: Position, b: Position) -> float:
    return max(JITTER_FLOOR_M, a.accuracy_m or 0.0, b.accuracy_m or 0.0)


def _plausible(a: Position, b: Position) -> bool:
    """Could a vehicle have gone from fix `a` to fix `b`? Each fix may be off by its accuracy,
    so only the distance beyond both counts."""
    seconds = _seconds(a, b)
    beyond = max(0.0, _distance_m(a, b) - (a.accuracy_m or 0.0) - (b.accuracy_m or 0.0))
    return beyond <= MAX_PLAUSIBLE_KMH / 3.6 * seconds


def clean_track(positions: Sequence[Position]) -> list[Position]:
    """The fixes in time order, without repeats and without impossible jumps.

    A fix no vehicle could have reached from the previous one is dropped. When the next
    fixes agree with that "impossible" one rather than with the track, the track was wrong
    (its earlier fix was the bad one) and the cleaned track restarts from them.
    """
    kept: list[Position] = []
    doubtful: list[Position] = []
    for fix in sorted(positions, key=lambda p: p.at.astimezone(UTC)):
        if kept and _seconds(kept[-1], fix) <= 0:
            continue  # the same instant twice (a resent fix): keep the first
        if not kept or _plausible(kept[-1], fix):
            kept.append(fix)
            doubtful.clear()
        elif doubtful and _seconds(doubtful[-1], fix) > 0 and _plausible(doubtful[-1], fix):
            doubtful.append(fix)
            if len(doubtful) >= CONFIRMING_FIXES:
                kept, doubtful = doubtful, []
        else:
            doubtful = [fix]
    return kept


def _moving_speeds_kmh(track: Sequence[Position]) -> list[float]:
    """Speeds over SPEED_BASELINE or more, within SPEED_WINDOW of the latest fix, counting only
    real movement (beyond noise, faster than MIN_MOVING_KMH)."""
    latest = track[-1]
    recent = [p for p in track if _seconds(p, latest) <= SPEED_WINDOW.total_seconds()]
    baseline = SPEED_BASELINE.total_seconds()
    speeds: list[float] = []
    start = 0
    for end, b in enumerate(recent):
        # The latest fix at least a baseline before `b`.
        while start + 1 < end and _seconds(recent[start + 1], b) >= baseline:
            start += 1
        a = recent[start]
        seconds = _seconds(a, b)
        if start >= end or seconds < baseline:
            continue
        distance = _distance_m(a, b)
        if distance <= _noise_m(a, b):
            continue
        kmh = distance / seconds * 3.6
        if kmh >= MIN_MOVING_KMH:
            speeds.append(kmh)
    return speeds


def _moving_away(track: Sequence[Position], dest_lat: float, dest_lon: float) -> bool:
    latest = track[-1]
    earlier = [p for p in track if _seconds(p, latest) >= AWAY_LOOKBACK.total_seconds()]
    if not earlier:
        return False  # too early in the trip to tell
    before = earlier[-1]
    gained = great_circle_m(latest.latitude, latest.longitude, dest_lat, dest_lon) - (
        great_circle_m(before.latitude, before.longitude, dest_lat, dest_lon)
    )
    return gained > max(AWAY_MARGIN_M, _noise_m(before, latest))


def estimate(positions: Sequence[Position], dest_lat: float, dest_lon: float) -> TripEstimate:
    """Minutes to arrival from a trip's fixes (any order; at least one).

    Distance: from the latest plausible fix, great-circle × DETOUR_FACTOR. Speed: the median
    of the recent moving speeds, so a red light or one bad fix does not swing the estimate;
    the default urban speed when there is no movement to measure (one fix, a parked phone,
    a long stop) or when the phone is moving away (its speed then says nothing about
    coming back).
    """
    track = clean_track(positions)
    if not track:
        raise ValueError("estimate needs at least one position")
    latest = track[-1]
    remaining_m = great_circle_m(latest.latitude, latest.longitude, dest_lat, dest_lon)
    remaining_m *= DETOUR_FACTOR
    away = _moving_away(track, dest_lat, dest_lon)
    speeds = [] if away else _moving_speeds_kmh(track)
    speed = median(speeds) if speeds else DEFAULT_SPEED_KMH
    speed = min(MAX_SPEED_KMH, max(MIN_SPEED_KMH, speed))
    return TripEstimate(
        minutes=remaining_m / (speed * 1000 / 60),
        speed_kmh=speed,
        moving_away=away,
        remaining_m=remaining_m,
    )


# --- How fresh the last fix is ----------------------------------------------------------------
#
# The phone sends a fix when it has moved 30 m, and at least every 15 s while the browser
# gives it positions (static/js/parent.js). When fixes stop (a tunnel, a dead battery, the
# page closed) the minutes shown go stale: boards say so, then the server stops using them.

# This long without a fix, boards say « signal perdu »: six heartbeats missed in a row, more
# than a red light lasts.
SIGNAL_LOST_AFTER = timedelta(seconds=90)
# This long without a fix (or as soon as the phone stops sharing), the server falls back to
# the predicted time: the last estimate's arrival moment, alerted at that moment minus the
# preparation time like an arrival given by time.
FALLBACK_AFTER = timedelta(minutes=5)
# Boards are told of a new fix once per step, not at every fix (a moving phone sends one
# every few seconds, and each would be a board event). They show the fix's time rounded down
# to the step: the age they show is never younger than the truth, and at most a step older.
FIX_STEP = timedelta(seconds=15)


class Signal(StrEnum):
    """What a board says of a GPS arrival."""

    LIVE = "live"  # « GPS ~17 min · il y a 20 s »
    LOST = "lost"  # « GPS · signal perdu (il y a 3 min) »
    PREDICTED = "predicted"  # « heure prévue 17:42 »: the server fell back to the prediction


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def fix_step(at: datetime) -> datetime:
    """The fix's instant as boards show it: rounded down to FIX_STEP (in UTC)."""
    return at - (at - _EPOCH) % FIX_STEP


def tell_boards(previous_fix: datetime | None, fix: datetime) -> bool:
    """Whether a new fix changes what boards show of its age (a new FIX_STEP)."""
    return previous_fix is None or fix_step(previous_fix) != fix_step(fix)


def falls_back(last_fix: datetime | None, now: datetime) -> bool:
    """Whether a trip whose latest kept fix is `last_fix` (None: none kept, the phone stopped
    sharing) is to fall back to its predicted time."""
    return last_fix is None or now - last_fix >= FALLBACK_AFTER


def gps_signal(fix_at: datetime | None, fallen_back: bool, now: datetime) -> Signal:
    """What a board says of a GPS arrival: the prediction once the server fell back to it;
    else « signal perdu » when no fix is known or the last is SIGNAL_LOST_AFTER old."""
    if fallen_back:
        return Signal.PREDICTED
    if fix_at is None or now - fix_at >= SIGNAL_LOST_AFTER:
        return Signal.LOST
    return Signal.LIVE
