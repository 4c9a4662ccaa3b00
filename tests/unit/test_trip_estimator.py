"""The GPS trip estimator on synthetic trips: a straight approach, a red light, a long stop,
moving away, a parked phone's jitter, a single fix, a teleporting fix, and the positions
`validate` refuses.

A synthetic trip is a list of fixes, one every 5 s, along a straight line through the
daycare. The estimator's model of the world is "road distance = straight line × DETOUR_FACTOR,
driven at the observed speed", so the truth these tests compare with is that model fed with
the exact distance and speed: what a perfect estimator would say.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from server.pickups import eta, rules
from server.pickups.eta import Position, TripEstimate
from server.pickups.rules import Refusal, RuleError

QUEBEC = ZoneInfo("America/Toronto")
T0 = datetime(2026, 11, 24, 16, 0, tzinfo=QUEBEC)
# Pavillon des Érables, the demo installation.
ERA = (46.8139, -71.2082)
PREPARATION_MINUTES = 5
FIX_EVERY_S = 5.0
# Metres per degree of latitude on the estimator's sphere.
M_PER_DEGREE = math.pi * eta.EARTH_RADIUS_M / 180


def point(
    distance_m: float,
    bearing_deg: float = 40.0,
    origin: tuple[float, float] = ERA,
    jitter: tuple[float, float] = (0.0, 0.0),
) -> tuple[float, float]:
    """The point `distance_m` from `origin` towards `bearing_deg` (0 = north), moved by
    `jitter` (metres north, east). Flat-earth offsets: exact enough over a few kilometres."""
    north = distance_m * math.cos(math.radians(bearing_deg)) + jitter[0]
    east = distance_m * math.sin(math.radians(bearing_deg)) + jitter[1]
    lat = origin[0] + north / M_PER_DEGREE
    lon = origin[1] + east / (M_PER_DEGREE * math.cos(math.radians(origin[0])))
    return lat, lon


def drive(
    start_m: float,
    legs: Sequence[tuple[float, float]],
    *,
    start: datetime = T0,
    accuracy_m: float | None = 8.0,
    bearing_deg: float = 40.0,
) -> tuple[list[Position], list[float]]:
    """A trip on the line through the daycare: starting `start_m` away, then each leg
    (seconds, km/h) at a constant speed, positive towards the daycare, negative away from it,
    zero stopped. Returns the fixes (one every 5 s) and the exact distance at each."""
    distance, elapsed = start_m, 0.0
    distances = [distance]
    fixes = [Position(*point(distance, bearing_deg), start, accuracy_m)]
    for seconds, kmh in legs:
        for _ in range(round(seconds / FIX_EVERY_S)):
            elapsed += FIX_EVERY_S
            distance = max(0.0, distance - kmh / 3.6 * FIX_EVERY_S)
            at = start + timedelta(seconds=elapsed)
            fixes.append(Position(*point(distance, bearing_deg), at, accuracy_m))
            distances.append(distance)
    return fixes, distances


def approach(
    start_m: float, kmh: float, *, start: datetime = T0, accuracy_m: float | None = 8.0
) -> tuple[list[Position], list[float]]:
    """Straight towards the daycare at `kmh` until arrival."""
    return drive(start_m, [(start_m / (kmh / 3.6), kmh)], start=start, accuracy_m=accuracy_m)


def as_received(fixes: Sequence[Position]) -> list[TripEstimate]:
    """The estimate after each fix, as the server computes it when that fix arrives."""
    return [eta.estimate(fixes[: i + 1], *ERA) for i in range(len(fixes))]


def model_minutes(distance_m: float, kmh: float) -> float:
    return distance_m * eta.DETOUR_FACTOR / (kmh * 1000 / 60)


WARM_UP = round(eta.SPEED_BASELINE.total_seconds() / FIX_EVERY_S)  # fixes before a speed


# --- Straight approach -------------------------------------------------------------------------


def test_a_straight_approach_is_estimated_within_15_percent_and_keeps_decreasing() -> None:
    fixes, distances = approach(5_000, 40)
    estimates = as_received(fixes)
    for estimate, distance in list(zip(estimates, distances, strict=True))[WARM_UP:]:
        truth = model_minutes(distance, 40)
        assert estimate.minutes == pytest.approx(truth, rel=0.15, abs=1e-9)
        assert estimate.speed_kmh == pytest.approx(40, rel=0.05)
        assert not estimate.moving_away
    moving = [e.minutes for e, d in zip(estimates, distances, strict=True) if d > 0]
    assert all(later < earlier for earlier, later in pairwise(moving))
    assert estimates[-1].minutes == pytest.approx(0.0, abs=0.01)


def test_before_the_speed_is_known_the_default_urban_speed_is_used() -> None:
    fixes, distances = approach(5_000, 40)
    for estimate, distance in zip(as_received(fixes[:WARM_UP]), distances, strict=False):
        assert estimate.speed_kmh == eta.DEFAULT_SPEED_KMH
        assert estimate.minutes == pytest.approx(model_minutes(distance, 30), rel=0.01)


def test_remaining_distance_is_the_great_circle_times_the_detour_factor() -> None:
    fixes, _ = approach(5_000, 40)
    estimate = eta.estimate(fixes[:10], *ERA)
    last = fixes[9]
    straight = eta.great_circle_m(last.latitude, last.longitude, *ERA)
    assert estimate.remaining_m == pytest.approx(straight * eta.DETOUR_FACTOR)


def test_a_noisy_approach_is_still_within_15_percent() -> None:
    rng = random.Random(7)
    fixes, distances = approach(5_000, 40, accuracy_m=10.0)
    noisy = [Position(*jittered(f, rng, 10.0), f.at, f.accuracy_m) for f in fixes]  # ±10 m
    estimates = as_received(noisy)
    for estimate, distance in list(zip(estimates, distances, strict=True))[WARM_UP:]:
        if distance > 200:  # closer, 10 m of noise is a fair part of the distance itself
            assert estimate.minutes == pytest.approx(model_minutes(distance, 40), rel=0.15)


def test_the_order_fixes_arrive_in_does_not_matter() -> None:
    fixes, _ = approach(3_000, 40)
    shuffled = list(fixes[:40])
    random.Random(3).shuffle(shuffled)
    assert eta.estimate(shuffled, *ERA) == eta.estimate(fixes[:40], *ERA)


def test_a_resent_fix_counts_once() -> None:
    fixes, _ = approach(3_000, 40)
    assert eta.estimate([*fixes[:20], fixes[19]], *ERA) == eta.estimate(fixes[:20], *ERA)


# --- Stops -------------------------------------------------------------------------------------


def test_a_red_light_does_not_make_the_estimate_jump() -> None:
    # 3 min at 40 km/h, a 60 s red light, then on again at 40 km/h.
    fixes, distances = drive(5_000, [(180, 40), (60, 0), (120, 40)])
    estimates = as_received(fixes)
    stop_starts = round(180 / FIX_EVERY_S)
    stop_ends = stop_starts + round(60 / FIX_EVERY_S)
    before = estimates[stop_starts].minutes
    at_the_light = estimates[stop_starts + 1 : stop_ends + 1]
    assert at_the_light  # the scenario has fixes at the light
    for estimate in at_the_light:
        assert estimate.minutes == pytest.approx(before, rel=0.30)
        assert estimate.speed_kmh > eta.DEFAULT_SPEED_KMH  # the moving speed, kept
    # Moving again: the estimate resumes its descent and tracks the truth.
    after = estimates[stop_ends + 1 :]
    assert all(later < earlier for earlier, later in pairwise(e.minutes for e in after))
    for estimate, distance in zip(
        after[WARM_UP:], distances[stop_ends + 1 + WARM_UP :], strict=True
    ):
        assert estimate.minutes == pytest.approx(model_minutes(distance, 40), rel=0.15)


def test_a_long_stop_falls_back_to_the_default_speed() -> None:
    # Parked for 5 minutes (a stop at the grocery store): the old speed no longer says much.
    fixes, distances = drive(5_000, [(120, 40), (300, 0)])
    estimate = eta.estimate(fixes, *ERA)
    assert estimate.speed_kmh == eta.DEFAULT_SPEED_KMH
    assert estimate.minutes == pytest.approx(model_minutes(distances[-1], 30), rel=0.01)


# --- Moving away -------------------------------------------------------------------------------


def test_moving_away_is_said_and_estimated_at_the_default_speed() -> None:
    # 2 km away: an approach at 40 km/h would already be due (3.9 min). Driving away for 2 min.
    fixes, distances = drive(2_000, [(120, -40)])
    estimate = eta.estimate(fixes, *ERA)
    assert estimate.moving_away
    assert estimate.speed_kmh == eta.DEFAULT_SPEED_KMH
    assert estimate.minutes == pytest.approx(model_minutes(distances[-1], 30), rel=0.01)
    assert not rules.gps_alert_due(estimate.minutes, PREPARATION_MINUTES)


def test_turning_back_is_noticed() -> None:
    fixes, _ = drive(2_000, [(120, -40), (120, 40)])
    assert not eta.estimate(fixes, *ERA).moving_away


def test_the_first_minute_of_a_trip_is_never_called_moving_away() -> None:
    fixes, _ = drive(2_000, [(50, -40)])
    assert not eta.estimate(fixes, *ERA).moving_away


# --- A parked phone ----------------------------------------------------------------------------


def jittered(fix: Position, rng: random.Random, radius_m: float) -> tuple[float, float]:
    """`fix` moved in a random direction by up to `radius_m` (uniform over the disc)."""
    r = radius_m * math.sqrt(rng.random())
    angle = rng.uniform(0, 2 * math.pi)
    north, east = r * math.cos(angle), r * math.sin(angle)
    lat = fix.latitude + north / M_PER_DEGREE
    lon = fix.longitude + east / (M_PER_DEGREE * math.cos(math.radians(fix.latitude)))
    return lat, lon


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("accuracy_m", [None, 10.0])
def test_jitter_around_a_parked_car_is_not_movement(seed: int, accuracy_m: float | None) -> None:
    rng = random.Random(seed)
    parked, distances = drive(3_000, [(300, 0)], accuracy_m=accuracy_m)
    fixes = [Position(*jittered(f, rng, 10.0), f.at, f.accuracy_m) for f in parked]
    for estimate in as_received(fixes):
        assert estimate.speed_kmh == eta.DEFAULT_SPEED_KMH
        assert not estimate.moving_away
        assert estimate.minutes == pytest.approx(model_minutes(distances[0], 30), rel=0.02)
        assert not rules.gps_alert_due(estimate.minutes, PREPARATION_MINUTES)  # not "arrived"


# --- Few or bad fixes --------------------------------------------------------------------------


def test_a_single_position_is_estimated_at_the_default_speed() -> None:
    here = Position(*point(4_000), T0, None)
    estimate = eta.estimate([here], *ERA)
    assert estimate.speed_kmh == eta.DEFAULT_SPEED_KMH
    assert not estimate.moving_away
    assert estimate.minutes == pytest.approx(eta.minutes_to_arrival(*point(4_000), *ERA))
    assert estimate.minutes == pytest.approx(model_minutes(4_000, 30), rel=0.005)


def test_no_position_is_an_error() -> None:
    with pytest.raises(ValueError):
        eta.estimate([], *ERA)


def teleported(fix: Position) -> Position:
    """`fix` 5 km off, at the same instant: a jump no car makes in 5 s (a cell-tower fix)."""
    return Position(*point(5_000, 200.0, origin=(fix.latitude, fix.longitude)), fix.at, 8.0)


def test_a_teleporting_fix_is_ignored() -> None:
    fixes, _ = approach(5_000, 40)
    jump = 60
    with_jump = [*fixes[:jump], teleported(fixes[jump]), *fixes[jump + 1 :]]
    without = [*fixes[:jump], *fixes[jump + 1 :]]
    # As the last fix received, and once later fixes came.
    assert eta.estimate(with_jump[: jump + 1], *ERA) == eta.estimate(without[:jump], *ERA)
    for end in range(jump + 2, jump + 20):
        assert eta.estimate(with_jump[:end], *ERA) == eta.estimate(without[: end - 1], *ERA)


def test_a_bad_first_fix_is_dropped_once_the_next_fixes_agree() -> None:
    fixes, distances = approach(5_000, 40)
    wrong_start = [teleported(fixes[0]), *fixes[1:]]
    estimate = eta.estimate(wrong_start[:3], *ERA)
    last = fixes[2]
    straight = eta.great_circle_m(last.latitude, last.longitude, *ERA)
    assert estimate.remaining_m == pytest.approx(straight * eta.DETOUR_FACTOR)
    later = eta.estimate(wrong_start[:40], *ERA)
    assert later.minutes == pytest.approx(model_minutes(distances[39], 40), rel=0.15)


def test_speeds_are_clamped_to_a_sane_range() -> None:
    highway, _ = approach(20_000, 130)
    assert eta.estimate(highway[:30], *ERA).speed_kmh == eta.MAX_SPEED_KMH
    crawling, _ = drive(2_000, [(120, 3.5)], accuracy_m=3.0)
    assert eta.estimate(crawling, *ERA).speed_kmh == eta.MIN_SPEED_KMH


def test_a_walking_parent_is_estimated_at_walking_speed() -> None:
    walking, distances = drive(1_000, [(180, 5)], accuracy_m=5.0)
    estimate = eta.estimate(walking, *ERA)
    assert estimate.speed_kmh == pytest.approx(5, rel=0.1)
    assert estimate.minutes == pytest.approx(model_minutes(distances[-1], 5), rel=0.1)


# --- validate ----------------------------------------------------------------------------------

NOW = T0


@pytest.mark.parametrize(
    "position",
    [
        Position(math.nan, ERA[1], NOW, 10.0),
        Position(ERA[0], math.nan, NOW, 10.0),
        Position(math.inf, ERA[1], NOW, 10.0),
        Position(ERA[0], -math.inf, NOW, 10.0),
        Position(91.0, ERA[1], NOW, 10.0),
        Position(-90.5, ERA[1], NOW, 10.0),
        Position(ERA[0], -181.0, NOW, 10.0),
        Position(ERA[0], 180.5, NOW, 10.0),
        Position(*ERA, NOW, -1.0),
        Position(*ERA, NOW, math.nan),
        Position(*ERA, NOW, math.inf),
        Position(*ERA, NOW, 5_001.0),
        Position(*ERA, NOW + timedelta(minutes=2, seconds=1), 10.0),
        Position(*ERA, NOW + timedelta(days=365), 10.0),
        Position(*ERA, NOW - timedelta(minutes=10, seconds=1), 10.0),
        Position(*ERA, NOW.replace(tzinfo=None), 10.0),
    ],
    ids=[
        "lat-nan",
        "lon-nan",
        "lat-inf",
        "lon-minus-inf",
        "lat-91",
        "lat-minus-90.5",
        "lon-minus-181",
        "lon-180.5",
        "accuracy-negative",
        "accuracy-nan",
        "accuracy-inf",
        "accuracy-over-5-km",
        "just-over-2-min-ahead",
        "a-year-ahead",
        "older-than-10-min",
        "naive-time",
    ],
)
def test_validate_refuses_impossible_positions(position: Position) -> None:
    with pytest.raises(RuleError) as excinfo:
        eta.validate(position, NOW)
    assert excinfo.value.refusal == Refusal.BAD_POSITION


@pytest.mark.parametrize(
    "position",
    [
        Position(*ERA, NOW, None),  # accuracy unknown
        Position(*ERA, NOW, 0.0),
        Position(*ERA, NOW, 5_000.0),
        Position(90.0, 180.0, NOW, 10.0),
        Position(-90.0, -180.0, NOW, 10.0),
        Position(*ERA, NOW + timedelta(minutes=2), 10.0),  # a phone clock running fast
        Position(*ERA, NOW - timedelta(minutes=10), 10.0),  # a fix delivered late
        Position(*ERA, NOW.astimezone(ZoneInfo("Asia/Tokyo")), 10.0),  # any zone, same instant
    ],
)
def test_validate_accepts_honest_positions(position: Position) -> None:
    eta.validate(position, NOW)
