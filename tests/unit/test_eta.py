"""GPS arrival estimates: haversine distance, detour factor, speed, position validation; how
fresh the last fix is (« signal perdu », the fallback to the predicted time)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.pickups import eta

# Centre-ville, Montréal and the Parliament, Québec City: about 233 km apart as the crow flies.
MONTREAL = (45.5017, -73.5673)
QUEBEC = (46.8139, -71.2080)
# One degree of a great circle on a sphere of radius 6371 km.
ONE_DEGREE_M = 2 * math.pi * 6_371_000 / 360  # ≈ 111 195 m


def test_one_degree_of_latitude_is_about_111_km() -> None:
    distance = eta.great_circle_m(45.0, -73.0, 46.0, -73.0)
    assert distance == pytest.approx(111_200, rel=0.005)
    assert distance == pytest.approx(ONE_DEGREE_M, rel=1e-9)


def test_one_degree_of_longitude_shrinks_with_latitude() -> None:
    assert eta.great_circle_m(0.0, 10.0, 0.0, 11.0) == pytest.approx(ONE_DEGREE_M, rel=1e-9)
    # At 60° north a degree of longitude is about half as long (cos 60° = 0.5).
    assert eta.great_circle_m(60.0, 10.0, 60.0, 11.0) == pytest.approx(ONE_DEGREE_M / 2, rel=0.005)


def test_same_point_is_zero_distance() -> None:
    assert eta.great_circle_m(*MONTREAL, *MONTREAL) == 0.0


def test_distance_between_montreal_and_quebec_city() -> None:
    assert eta.great_circle_m(*MONTREAL, *QUEBEC) == pytest.approx(233_000, rel=0.01)


def test_distance_is_symmetric() -> None:
    forth = eta.great_circle_m(*MONTREAL, *QUEBEC)
    back = eta.great_circle_m(*QUEBEC, *MONTREAL)
    assert forth == pytest.approx(back, rel=1e-12)


def test_antipodes_are_half_the_circumference_apart() -> None:
    assert eta.great_circle_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(math.pi * 6_371_000)
    assert eta.great_circle_m(90.0, 0.0, -90.0, 0.0) == pytest.approx(math.pi * 6_371_000)


def test_crossing_the_antimeridian_takes_the_short_way() -> None:
    assert eta.great_circle_m(0.0, 179.5, 0.0, -179.5) == pytest.approx(ONE_DEGREE_M, rel=1e-9)


def _ten_km_north_of(lat: float, lon: float) -> tuple[float, float]:
    return lat + 10_000 / ONE_DEGREE_M, lon


def test_minutes_to_arrival_at_the_default_urban_speed() -> None:
    # 10 km straight × 1.3 detour = 13 km of road; at 30 km/h that is 26 minutes.
    here = _ten_km_north_of(*MONTREAL)
    assert eta.minutes_to_arrival(*here, *MONTREAL) == pytest.approx(26.0, rel=1e-6)


def test_minutes_to_arrival_scales_inversely_with_speed() -> None:
    here = _ten_km_north_of(*MONTREAL)
    assert eta.minutes_to_arrival(*here, *MONTREAL, speed_kmh=60) == pytest.approx(13.0, rel=1e-6)
    assert eta.minutes_to_arrival(*here, *MONTREAL, speed_kmh=15) == pytest.approx(52.0, rel=1e-6)


def test_minutes_to_arrival_scales_with_the_detour_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    here = _ten_km_north_of(*MONTREAL)
    monkeypatch.setattr(eta, "DETOUR_FACTOR", 1.0)
    assert eta.minutes_to_arrival(*here, *MONTREAL) == pytest.approx(20.0, rel=1e-6)
    monkeypatch.setattr(eta, "DETOUR_FACTOR", 2.0)
    assert eta.minutes_to_arrival(*here, *MONTREAL) == pytest.approx(40.0, rel=1e-6)


def test_already_there_is_zero_minutes() -> None:
    assert eta.minutes_to_arrival(*MONTREAL, *MONTREAL) == 0.0


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        MONTREAL,
        (0.0, 0.0),
        (90.0, 180.0),
        (-90.0, -180.0),
    ],
)
def test_valid_positions(latitude: float, longitude: float) -> None:
    assert eta.valid_position(latitude, longitude)


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        (math.nan, -73.5),
        (45.5, math.nan),
        (math.inf, -73.5),
        (45.5, -math.inf),
        (91.0, -73.5),
        (-90.0001, -73.5),
        (45.5, -181.0),
        (45.5, 180.0001),
    ],
)
def test_invalid_positions_are_rejected(latitude: float, longitude: float) -> None:
    assert not eta.valid_position(latitude, longitude)


# --- How fresh the last fix is (the clock is an argument) ---------------------------------------

FIX = datetime(2026, 11, 24, 21, 0, 0, tzinfo=UTC)  # 16:00 in Québec, on a step


def seconds(n: float) -> timedelta:
    return timedelta(seconds=n)


def test_boards_are_told_of_a_fix_once_per_step() -> None:
    assert seconds(15) == eta.FIX_STEP
    assert eta.fix_step(FIX + seconds(14.9)) == FIX
    assert eta.fix_step(FIX + seconds(15)) == FIX + seconds(15)
    assert eta.tell_boards(None, FIX)  # the first fix, or the first after others were forgotten
    assert not eta.tell_boards(FIX + seconds(1), FIX + seconds(14))
    assert eta.tell_boards(FIX + seconds(14), FIX + seconds(15))
    # Any time zone: steps are instants.
    assert eta.fix_step((FIX + seconds(20)).astimezone(ZoneInfo("America/Toronto"))) == (
        FIX + seconds(15)
    )


@pytest.mark.parametrize("after", [0, 1, 7.5, 14, 14.999, 15, 29, 600])
def test_the_age_boards_show_is_never_younger_than_the_fix_and_at_most_a_step_older(
    after: float,
) -> None:
    fix = FIX + seconds(after)
    shown = eta.fix_step(fix)
    assert shown <= fix < shown + eta.FIX_STEP


def test_signal_is_live_then_lost_after_ninety_seconds_without_a_fix() -> None:
    assert seconds(90) == eta.SIGNAL_LOST_AFTER
    assert eta.gps_signal(FIX, False, FIX) == eta.Signal.LIVE
    assert eta.gps_signal(FIX, False, FIX + seconds(89)) == eta.Signal.LIVE
    assert eta.gps_signal(FIX, False, FIX + seconds(90)) == eta.Signal.LOST
    assert eta.gps_signal(None, False, FIX) == eta.Signal.LOST  # no fix known at all


def test_once_the_server_fell_back_boards_show_the_prediction_whatever_the_fix() -> None:
    for fix in (None, FIX):
        assert eta.gps_signal(fix, True, FIX) == eta.Signal.PREDICTED


def test_the_server_falls_back_five_minutes_after_the_last_fix_or_when_none_is_kept() -> None:
    assert timedelta(minutes=5) == eta.FALLBACK_AFTER
    assert not eta.falls_back(FIX, FIX + timedelta(minutes=5) - seconds(1))
    assert eta.falls_back(FIX, FIX + timedelta(minutes=5))
    assert eta.falls_back(None, FIX)  # the phone stopped sharing: its positions are gone
    # « signal perdu » comes first, for a while.
    assert eta.SIGNAL_LOST_AFTER < eta.FALLBACK_AFTER
