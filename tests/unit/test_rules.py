"""The pure lifecycle rules, at their edges. Every moment is built explicitly (America/Toronto,
aware); nothing here reads the time of day."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.models import PickupStatus as S
from server.pickups import rules
from server.pickups.rules import Refusal, RuleError
from tests.helpers import ANNOUNCEABLE

TZ = "America/Toronto"
Q = ZoneInfo(TZ)
# A Tuesday afternoon in Québec (standard time).
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=Q)
ALL_DAY = (time(0, 0), time(23, 59))


def at(hour: int, minute: int = 0, second: int = 0, microsecond: int = 0) -> datetime:
    """A moment on NOW's day, local time."""
    return datetime(2026, 11, 24, hour, minute, second, microsecond, tzinfo=Q)


def refusal_of(excinfo: pytest.ExceptionInfo[RuleError]) -> Refusal:
    return excinfo.value.refusal


# --- call window ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrival", "inside"),
    [
        (time(6, 59), False),
        (time(6, 59, 59, 999_999), False),
        (time(7, 0), True),
        (time(7, 0, 30), True),
        (time(12, 0), True),
        (time(18, 0), True),
        (time(18, 0, 59, 999_999), True),  # inclusive to the minute
        (time(18, 1), False),
        (time(23, 0), False),
        (time(0, 0), False),
    ],
)
def test_call_window_includes_both_ends_to_the_minute(arrival: time, inside: bool) -> None:
    assert rules.in_call_window(arrival, time(7, 0), time(18, 0)) is inside


@pytest.mark.parametrize(
    "arrival", [time(0, 0), time(12, 0), time(23, 59), time(23, 59, 59), time(23, 59, 59, 999_999)]
)
def test_window_ending_at_2359_covers_the_last_minute_of_the_day(arrival: time) -> None:
    assert rules.in_call_window(arrival, *ALL_DAY)


@pytest.mark.parametrize(
    ("arrival", "inside"),
    [
        (time(21, 59), False),
        (time(22, 0), True),
        (time(23, 30), True),
        (time(23, 59, 59), True),
        (time(0, 0), True),
        (time(1, 15), True),
        (time(2, 0), True),
        (time(2, 0, 59), True),
        (time(2, 1), False),
        (time(12, 0), False),
        (time(16, 0), False),
    ],
)
def test_window_that_wraps_past_midnight(arrival: time, inside: bool) -> None:
    assert rules.in_call_window(arrival, time(22, 0), time(2, 0)) is inside


def test_single_minute_window() -> None:
    assert rules.in_call_window(time(12, 0, 45), time(12, 0), time(12, 0))
    assert not rules.in_call_window(time(11, 59), time(12, 0), time(12, 0))
    assert not rules.in_call_window(time(12, 1), time(12, 0), time(12, 0))


# --- plan_eta ---------------------------------------------------------------------------------


def test_arrival_one_minute_outside_the_window_is_refused() -> None:
    for arrival in (time(6, 59), time(18, 1)):
        with pytest.raises(RuleError) as excinfo:
            rules.plan_eta(at(6, 0), arrival, TZ, 5, time(7, 0), time(18, 0))
        assert refusal_of(excinfo) == Refusal.OUTSIDE_WINDOW


def test_announcing_before_the_window_for_an_arrival_inside_it_is_allowed() -> None:
    plan = rules.plan_eta(at(6, 0), time(7, 30), TZ, 5, time(7, 0), time(18, 0))
    assert plan.status == S.SCHEDULED
    assert plan.eta == at(7, 30)
    assert plan.announce_at == at(7, 25)


def test_during_a_real_emergency_there_is_no_window_and_no_preparation_time() -> None:
    plan = rules.plan_eta(at(19, 0), time(19, 30), TZ, 5, time(7, 0), time(18, 0), emergency=True)
    assert (plan.status, plan.announce_at, plan.eta) == (S.ANNOUNCED, at(19, 0), at(19, 30))
    with pytest.raises(RuleError) as excinfo:  # a time already past is still one
        rules.plan_eta(at(19, 0), time(18, 0), TZ, 5, time(7, 0), time(18, 0), emergency=True)
    assert refusal_of(excinfo) == Refusal.ARRIVAL_PASSED


def test_window_edges_are_accepted_by_plan_eta() -> None:
    first = rules.plan_eta(at(6, 0), time(7, 0), TZ, 5, time(7, 0), time(18, 0))
    last = rules.plan_eta(at(6, 0), time(18, 0), TZ, 5, time(7, 0), time(18, 0))
    assert (first.eta, last.eta) == (at(7, 0), at(18, 0))


def test_the_window_is_checked_before_the_arrival_time() -> None:
    # 06:00 is both outside the window and long past: the window is what the parent is told.
    with pytest.raises(RuleError) as excinfo:
        rules.plan_eta(NOW, time(6, 0), TZ, 5, time(7, 0), time(18, 0))
    assert refusal_of(excinfo) == Refusal.OUTSIDE_WINDOW


@pytest.mark.parametrize(
    ("arrival", "prep", "announce_at", "status"),
    [
        (time(16, 30), 5, at(16, 25), S.SCHEDULED),
        (time(16, 30), 30, at(16, 0), S.ANNOUNCED),  # reached exactly: announced
        (time(16, 30), 31, at(15, 59), S.ANNOUNCED),  # passed: announced at once
        (time(16, 30), 29, at(16, 1), S.SCHEDULED),
        (time(16, 5), 5, at(16, 0), S.ANNOUNCED),
        (time(16, 6), 5, at(16, 1), S.SCHEDULED),
        (time(16, 0), 0, at(16, 0), S.ANNOUNCED),
        (time(17, 0), 0, at(17, 0), S.SCHEDULED),
    ],
)
def test_preparation_time_decides_when_the_board_is_alerted(
    arrival: time, prep: int, announce_at: datetime, status: S
) -> None:
    plan = rules.plan_eta(NOW, arrival, TZ, prep, *ALL_DAY)
    assert plan.eta == at(arrival.hour, arrival.minute)
    assert plan.announce_at == announce_at
    assert plan.status == status


def test_status_flips_to_announced_exactly_at_the_announce_moment() -> None:
    just_before = NOW - timedelta(microseconds=1)
    assert rules.plan_eta(just_before, time(16, 5), TZ, 5, *ALL_DAY).status == S.SCHEDULED
    assert rules.plan_eta(NOW, time(16, 5), TZ, 5, *ALL_DAY).status == S.ANNOUNCED


def test_arrival_in_the_past_within_tolerance_is_accepted_and_announced_at_once() -> None:
    plan = rules.plan_eta(NOW, time(15, 45), TZ, 5, *ALL_DAY)  # exactly 15 minutes ago
    assert plan.status == S.ANNOUNCED
    assert plan.eta == at(15, 45)
    plan = rules.plan_eta(NOW, time(15, 59), TZ, 5, *ALL_DAY)
    assert plan.status == S.ANNOUNCED


@pytest.mark.parametrize("arrival", [time(15, 44), time(12, 0), time(0, 0)])
def test_arrival_passed_beyond_tolerance_is_refused(arrival: time) -> None:
    with pytest.raises(RuleError) as excinfo:
        rules.plan_eta(NOW, arrival, TZ, 5, *ALL_DAY)
    assert refusal_of(excinfo) == Refusal.ARRIVAL_PASSED


def test_the_arrival_is_on_the_installations_local_day_not_the_utc_day() -> None:
    # 22:00 in Québec is already the next day in UTC.
    now_utc = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert now_utc.astimezone(Q) == at(22, 0)
    plan = rules.plan_eta(now_utc, time(22, 30), TZ, 5, *ALL_DAY)
    assert plan.eta == at(22, 30)
    assert plan.status == S.SCHEDULED


def test_a_utc_now_and_a_local_now_give_the_same_plan() -> None:
    local = rules.plan_eta(NOW, time(16, 30), TZ, 5, *ALL_DAY)
    utc = rules.plan_eta(NOW.astimezone(UTC), time(16, 30), TZ, 5, *ALL_DAY)
    assert local == utc


@pytest.mark.parametrize(
    ("now", "arrival"),
    [
        # Spring forward, 2026-03-08: 02:00 EST jumps to 03:00 EDT.
        (datetime(2026, 3, 8, 1, 0, tzinfo=Q), time(3, 2)),
        # Fall back, 2026-11-01: 02:00 EDT returns to 01:00 EST.
        (datetime(2026, 11, 1, 0, 0, tzinfo=Q), time(2, 2)),
        (datetime(2026, 11, 1, 0, 0, tzinfo=Q), time(1, 0)),
    ],
)
def test_the_alert_comes_the_preparation_time_before_arrival_even_across_a_dst_change(
    now: datetime, arrival: time
) -> None:
    plan = rules.plan_eta(now, arrival, TZ, 5, *ALL_DAY)
    elapsed = plan.eta.astimezone(UTC) - plan.announce_at.astimezone(UTC)
    assert elapsed == timedelta(minutes=5)
    assert plan.eta.astimezone(Q).time() == arrival
    assert plan.status == S.SCHEDULED


# --- parse_hhmm -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7:05", time(7, 5)),
        ("07:05", time(7, 5)),
        ("17:45", time(17, 45)),
        ("00:00", time(0, 0)),
        ("23:59", time(23, 59)),
        (" 17:45 ", time(17, 45)),
    ],
)
def test_parse_hhmm_accepts_24_hour_times(text: str, expected: time) -> None:
    assert rules.parse_hhmm(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "24:00",
        "17:60",
        "1745",
        "",
        "ab:cd",
        " 17:45x",
        "17:45:00",
        "-1:30",
        "+7:05",
        "117:45",
        "17:",
        ":45",
        "7 :05",
        "1²:30",  # a superscript digit is a "digit" to str.isdigit, not to int()
        "１７:４５",  # fullwidth digits
        "17:5",  # may have meant 17:50: ask again rather than guess 17:05
    ],
)
def test_parse_hhmm_refuses_anything_else(text: str) -> None:
    with pytest.raises(RuleError) as excinfo:
        rules.parse_hhmm(text)
    assert refusal_of(excinfo) == Refusal.BAD_TIME


@given(st.integers(0, 23), st.integers(0, 59))
def test_parse_hhmm_round_trips_every_minute(hour: int, minute: int) -> None:
    assert rules.parse_hhmm(f"{hour:02d}:{minute:02d}") == time(hour, minute)
    assert rules.parse_hhmm(f"{hour}:{minute:02d}") == time(hour, minute)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=8) | st.from_regex(r"\A\s*\S{0,3}:\S{0,3}\s*\Z"))
def test_parse_hhmm_either_parses_or_refuses_with_bad_time(text: str) -> None:
    try:
        parsed = rules.parse_hhmm(text)
    except RuleError as error:
        assert error.refusal == Refusal.BAD_TIME
    else:
        hour, minute = text.strip().split(":")
        assert hour.isascii() and minute.isascii()
        assert (int(hour), int(minute)) == (parsed.hour, parsed.minute)
        assert parsed == time(parsed.hour, parsed.minute)


# --- is_due -----------------------------------------------------------------------------------


def test_scheduled_pickup_is_due_once_its_moment_is_reached() -> None:
    announce_at = at(16, 25)
    assert not rules.is_due(S.SCHEDULED, announce_at, announce_at - timedelta(microseconds=1))
    assert rules.is_due(S.SCHEDULED, announce_at, announce_at)
    assert rules.is_due(S.SCHEDULED, announce_at, announce_at + timedelta(hours=1))
    assert rules.is_due("scheduled", announce_at, announce_at)


@pytest.mark.parametrize("status", [s for s in S if s != S.SCHEDULED])
def test_only_scheduled_pickups_are_ever_due(status: S) -> None:
    assert not rules.is_due(status, at(15, 0), NOW)


def test_a_pickup_without_announce_moment_is_never_due() -> None:
    assert not rules.is_due(S.SCHEDULED, None, NOW)


def test_is_due_compares_instants_in_the_repeated_hour_of_a_dst_change() -> None:
    # 2026-11-01: 01:30 happens twice. 01:30 EDT (first) is before 01:10 EST (second).
    announce_at = datetime(2026, 11, 1, 1, 30, tzinfo=Q, fold=0)
    now = datetime(2026, 11, 1, 1, 10, tzinfo=Q, fold=1)
    assert announce_at.astimezone(UTC) < now.astimezone(UTC)
    assert rules.is_due(S.SCHEDULED, announce_at, now)
    assert rules.is_due(S.SCHEDULED, announce_at.astimezone(UTC), now)


# --- expiry -----------------------------------------------------------------------------------


def test_end_of_day_is_the_next_local_midnight() -> None:
    assert rules.end_of_day(date(2026, 11, 24), TZ) == datetime(2026, 11, 25, 0, 0, tzinfo=Q)
    assert rules.end_of_day(date(2026, 11, 24), TZ).astimezone(UTC) == datetime(
        2026, 11, 25, 5, 0, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("day", "midnight_utc"),
    [
        (date(2026, 11, 24), datetime(2026, 11, 25, 5, 0, tzinfo=UTC)),  # EST
        (date(2026, 7, 15), datetime(2026, 7, 16, 4, 0, tzinfo=UTC)),  # EDT
        (date(2026, 10, 31), datetime(2026, 11, 1, 4, 0, tzinfo=UTC)),  # day before fall back
        (date(2026, 11, 1), datetime(2026, 11, 2, 5, 0, tzinfo=UTC)),  # 25-hour day
        (date(2026, 3, 8), datetime(2026, 3, 9, 4, 0, tzinfo=UTC)),  # 23-hour day
    ],
)
def test_pickups_expire_at_local_midnight(day: date, midnight_utc: datetime) -> None:
    one_before = midnight_utc - timedelta(microseconds=1)
    assert not rules.is_expired(day, TZ, one_before)
    assert not rules.is_expired(day, TZ, one_before.astimezone(Q))
    assert rules.is_expired(day, TZ, midnight_utc)
    assert rules.is_expired(day, TZ, midnight_utc.astimezone(Q))
    assert rules.is_expired(day, TZ, midnight_utc + timedelta(hours=3))


def test_the_day_dst_ends_lasts_25_hours_and_its_late_evening_is_still_live() -> None:
    day = date(2026, 11, 1)
    start = rules.end_of_day(day - timedelta(days=1), TZ).astimezone(UTC)
    end = rules.end_of_day(day, TZ).astimezone(UTC)
    assert end - start == timedelta(hours=25)
    assert not rules.is_expired(day, TZ, datetime(2026, 11, 1, 23, 59, 59, tzinfo=Q))
    # The second 01:30 of the night is still the same day, long before its end.
    assert not rules.is_expired(day, TZ, datetime(2026, 11, 1, 1, 30, tzinfo=Q, fold=1))


def test_local_day_follows_the_installation_zone() -> None:
    assert rules.local_day(datetime(2026, 11, 25, 4, 59, tzinfo=UTC), TZ) == date(2026, 11, 24)
    assert rules.local_day(datetime(2026, 11, 25, 5, 0, tzinfo=UTC), TZ) == date(2026, 11, 25)


# --- staff steps ------------------------------------------------------------------------------

ALLOWED_STEPS = {(S.ANNOUNCED, S.CALLED), (S.CALLED, S.READY), (S.READY, S.DEPARTED)}
FINAL_STATES = {S.DEPARTED, S.CANCELLED, S.EXPIRED, S.DISMISSED}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_staff_steps_only_go_announced_called_ready_departed(current: S, target: S) -> None:
    if current in FINAL_STATES:
        with pytest.raises(RuleError) as excinfo:
            rules.check_staff_step(current, target)
        assert refusal_of(excinfo) == Refusal.FINISHED
    elif (current, target) in ALLOWED_STEPS:
        rules.check_staff_step(current, target)
        rules.check_staff_step(current.value, target.value)
    else:
        with pytest.raises(RuleError) as excinfo:
            rules.check_staff_step(current, target)
        assert refusal_of(excinfo) == Refusal.NOT_NEXT_STEP


def test_skipped_repeated_and_backward_steps_are_named_as_such() -> None:
    for current, target in [
        (S.ANNOUNCED, S.READY),  # skipped
        (S.ANNOUNCED, S.DEPARTED),  # skipped twice
        (S.CALLED, S.CALLED),  # repeated (a double tap)
        (S.READY, S.CALLED),  # backwards
        (S.SCHEDULED, S.CALLED),  # not on the board yet
        (S.TRACKING, S.CALLED),
    ]:
        with pytest.raises(RuleError) as excinfo:
            rules.check_staff_step(current, target)
        assert refusal_of(excinfo) == Refusal.NOT_NEXT_STEP
        assert excinfo.value.details == {"current": current, "target": target}


def test_staff_next_names_the_one_button() -> None:
    assert [rules.staff_next(s) for s in S] == [
        None,  # scheduled
        None,  # tracking
        S.CALLED,
        S.READY,
        S.DEPARTED,
        None,
        None,
        None,
        None,  # dismissed
    ]
    assert rules.staff_next("called") == S.READY


@pytest.mark.parametrize(
    ("status", "cancellable"),
    [
        (S.SCHEDULED, True),
        (S.TRACKING, True),
        (S.ANNOUNCED, True),
        (S.CALLED, True),
        (S.READY, True),
        (S.DEPARTED, False),
        (S.CANCELLED, False),
        (S.EXPIRED, False),
    ],
)
def test_any_state_before_departed_can_be_cancelled(status: S, cancellable: bool) -> None:
    assert rules.can_cancel(status) is cancellable
    assert rules.can_cancel(status.value) is cancellable


def test_status_sets_partition_the_lifecycle() -> None:
    assert set(S) == rules.LIVE | rules.FINAL
    assert not rules.LIVE & rules.FINAL
    assert {S.ANNOUNCED, S.CALLED, S.READY} == rules.ON_BOARD
    assert rules.ON_BOARD < rules.LIVE


# --- check_can_announce -----------------------------------------------------------------------

GOOD = ANNOUNCEABLE
# Each refusal with the one fact that triggers it, most important first.
BLOCKERS: list[tuple[Refusal, dict[str, bool]]] = [
    (Refusal.NOT_GUARDIAN, {"is_guardian": False}),
    (Refusal.PICKUP_DISABLED, {"pickup_enabled": False}),
    (Refusal.PHOTO_PENDING, {"photo_pending": True}),
    (Refusal.CHILD_DEPARTED, {"departed_today": True}),
    (Refusal.CHILD_ABSENT, {"present": False}),
    (Refusal.ALREADY_ANNOUNCED, {"has_live_pickup": True}),
]


def test_a_present_child_of_ones_own_can_be_announced() -> None:
    rules.check_can_announce(GOOD)


@pytest.mark.parametrize(("reason", "fact"), BLOCKERS)
def test_each_refusal_reason(reason: Refusal, fact: dict[str, bool]) -> None:
    with pytest.raises(RuleError) as excinfo:
        rules.check_can_announce(replace(GOOD, **fact))
    assert refusal_of(excinfo) == reason


@pytest.mark.parametrize("first", range(len(BLOCKERS)))
def test_refusal_reasons_are_given_in_priority_order(first: int) -> None:
    facts = GOOD
    for _, fact in BLOCKERS[first:]:
        facts = replace(facts, **fact)
    with pytest.raises(RuleError) as excinfo:
        rules.check_can_announce(facts)
    assert refusal_of(excinfo) == BLOCKERS[first][0]


def test_a_child_who_left_today_is_told_departed_not_absent() -> None:
    with pytest.raises(RuleError) as excinfo:
        rules.check_can_announce(replace(GOOD, present=False, departed_today=True))
    assert refusal_of(excinfo) == Refusal.CHILD_DEPARTED


# --- GPS and waiting time ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "prep", "due"),
    [
        (0.0, 5, True),
        (4.99, 5, True),
        (5.0, 5, True),
        (5.0001, 5, False),
        (30.0, 5, False),
        (0.0, 0, True),
        (0.01, 0, False),
    ],
)
def test_gps_alert_is_due_within_the_preparation_time(minutes: float, prep: int, due: bool) -> None:
    assert rules.gps_alert_due(minutes, prep) is due


@pytest.mark.parametrize(
    ("elapsed", "minutes"),
    [
        (timedelta(0), 0),
        (timedelta(seconds=59, microseconds=999_999), 0),
        (timedelta(minutes=1), 1),
        (timedelta(minutes=10, seconds=59), 10),
        (timedelta(hours=2, minutes=3), 123),
        (timedelta(minutes=-5), 0),  # clocks a little apart: never negative
    ],
)
def test_waiting_minutes_counts_whole_minutes_since_the_alert(
    elapsed: timedelta, minutes: int
) -> None:
    assert rules.waiting_minutes(NOW, NOW + elapsed) == minutes


def test_waiting_minutes_is_zero_before_any_alert() -> None:
    assert rules.waiting_minutes(None, NOW) == 0


def test_waiting_minutes_counts_real_time_across_the_fall_back_hour() -> None:
    announced_at = datetime(2026, 11, 1, 1, 50, tzinfo=Q, fold=0)  # 05:50 UTC
    now = datetime(2026, 11, 1, 1, 5, tzinfo=Q, fold=1)  # 06:05 UTC
    assert rules.waiting_minutes(announced_at, now) == 15
    assert rules.waiting_minutes(announced_at.astimezone(UTC), now) == 15
