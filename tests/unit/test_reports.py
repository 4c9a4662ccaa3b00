"""Pickup timing reports, pure: medians from event rows, suggestions, chart layout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.pickups import reports
from server.pickups.reports import EventRow, PickupSteps, StepMedians

T = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)


def events(pickup_id: int, **minutes: float) -> list[EventRow]:
    """Rows for one pickup: status=minutes after T."""
    return [EventRow(pickup_id, status, T + timedelta(minutes=m)) for status, m in minutes.items()]


def steps(*rows: list[EventRow]) -> list[PickupSteps]:
    return list(reports.pickup_steps([e for r in rows for e in r]).values())


def test_median_odd_and_even_counts() -> None:
    assert reports.median([3.0, 1.0, 2.0]) == 2.0
    assert reports.median([4.0, 1.0, 2.0, 3.0]) == 2.5
    assert reports.median([7.0]) == 7.0
    assert reports.median([]) is None


def test_each_step_is_the_median_over_pickups_with_both_ends() -> None:
    medians = reports.summarize(
        steps(
            events(1, announced=0, called=2, ready=6, departed=7),
            events(2, announced=0, called=4, ready=8, departed=10),
            events(3, announced=0, called=3, ready=10, departed=11),
        )
    )
    assert medians.pickups == 3
    assert medians.alert_to_called == 3.0  # 2, 4, 3
    assert medians.called_to_ready == 4.0  # 4, 4, 7
    assert medians.ready_to_departed == 1.0  # 1, 2, 1
    assert medians.alert_to_ready == 8.0  # 6, 8, 10: measured per pickup, not summed
    assert medians.preparation_samples == 3


def test_even_count_takes_the_mean_of_the_two_middle_values() -> None:
    medians = reports.summarize(
        steps(events(1, announced=0, called=1), events(2, announced=0, called=4))
    )
    assert medians.alert_to_called == 2.5


def test_pickup_cancelled_before_call_counts_only_where_it_has_both_ends() -> None:
    medians = reports.summarize(
        steps(
            events(1, announced=0, called=2, ready=5, departed=6),
            events(2, announced=0, cancelled=1),  # cancelled before Appeler
            events(3, announced=0, called=4, cancelled=5),  # cancelled after Appeler
        )
    )
    assert medians.pickups == 3  # all three reached the board
    assert medians.alert_to_called == 3.0  # 2 and 4: pickup 2 has no Appeler
    assert medians.called_to_ready == 3.0  # only pickup 1 was ready
    assert medians.ready_to_departed == 1.0
    assert medians.alert_to_ready == 5.0
    assert medians.preparation_samples == 1


def test_missing_steps_are_ignored_never_zero() -> None:
    medians = reports.summarize(
        steps(
            events(1, announced=0, ready=6),  # Appeler skipped in the log
            events(2, called=1, ready=3),  # never announced: not a board pickup
            events(3, scheduled=-20, tracking=-10),  # never reached the board
        )
    )
    assert medians.pickups == 1
    assert medians.alert_to_called is None
    assert medians.called_to_ready is None
    assert medians.ready_to_departed is None
    assert medians.alert_to_ready == 6.0


def test_the_first_time_a_step_is_reached_counts_and_order_does_not_matter() -> None:
    rows = [
        EventRow(1, "called", T + timedelta(minutes=5)),
        EventRow(1, "announced", T),
        EventRow(1, "called", T + timedelta(minutes=3)),
    ]
    assert reports.summarize(reports.pickup_steps(rows).values()).alert_to_called == 3.0


def test_nothing_gives_no_medians() -> None:
    medians = reports.summarize([])
    assert medians == StepMedians(0, None, None, None, None, 0)


def prep(minutes: float | None, samples: int) -> StepMedians:
    return StepMedians(samples, None, None, None, minutes, samples)


@pytest.mark.parametrize(
    ("measured", "samples", "configured", "expected"),
    [
        (8.0, 5, 5, 8),  # 3 min over, 5 pickups: suggest
        (7.5, 5, 5, 8),  # rounded half up
        (7.0, 5, 5, None),  # exactly 2 min: not more than 2
        (7.2, 5, 5, 7),
        (2.5, 6, 5, 3),  # 2.5 min under: suggest less (half up)
        (2.0, 6, 5, 2),
        (8.0, 4, 5, None),  # too few pickups
        (None, 9, 5, None),  # nothing measured
        (0.2, 5, 5, 1),  # never suggests 0 minutes
    ],
)
def test_suggestion_thresholds(
    measured: float | None, samples: int, configured: int, expected: int | None
) -> None:
    assert reports.suggested_preparation(prep(measured, samples), configured) == expected


def test_chart_bars_scale_to_the_highest_median_and_skip_missing_steps() -> None:
    full = StepMedians(3, 2.0, 4.0, 1.0, 6.0, 3)
    partial = StepMedians(1, 3.0, None, None, None, 0)
    chart = reports.bar_chart([("Les Lutins", full), ("Les Hiboux", partial)], plot_height=200)
    lutins, hiboux = chart.groups
    assert [b.step for b in lutins.bars] == [0, 1, 2]
    assert [b.step for b in hiboux.bars] == [0]
    tallest = max(b.height for b in lutins.bars)
    assert tallest == pytest.approx(200 * 4.0 / 4.0)  # 4 min is the top of the scale
    assert lutins.bars[0].height == pytest.approx(100)  # 2 of 4 minutes
    assert all(b.y + b.height == pytest.approx(chart.plot_bottom) for b in lutins.bars)
    assert chart.ticks[0].minutes == 0 and chart.ticks[-1].minutes == 4
    assert hiboux.label_x > lutins.label_x
