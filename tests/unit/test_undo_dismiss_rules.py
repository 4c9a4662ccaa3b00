"""The pure rules of undo and dismiss: both are transitions of the lifecycle, and what an
undo may take back is decided from the release log's last line and the moment only."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.core.models import PickupStatus as S
from server.pickups import rules
from server.pickups.rules import DismissReason, LoggedStep, Refusal, RuleError

Q = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 24, 17, 45, tzinfo=Q)


def step(before: str | None, after: str, seconds_ago: float = 3, **how: bool) -> LoggedStep:
    return LoggedStep(
        from_status=before,
        to_status=after,
        at=NOW - timedelta(seconds=seconds_ago),
        by_staff=how.get("by_staff", True),
        is_undo=how.get("is_undo", False),
    )


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (S.ANNOUNCED, S.CALLED),
        (S.CALLED, S.READY),
        (S.READY, S.DEPARTED),
        (S.ANNOUNCED, S.DISMISSED),
        (S.CALLED, S.DISMISSED),
        (S.READY, S.DISMISSED),
    ],
)
def test_each_staff_step_and_dismissal_is_undone_back_to_where_it_came_from(
    before: S, after: S
) -> None:
    assert rules.undo_target(after, step(before, after), NOW) == before


def test_undo_is_possible_for_exactly_ten_seconds() -> None:
    assert rules.undo_target(S.READY, step(S.CALLED, S.READY, seconds_ago=10), NOW) == S.CALLED
    with pytest.raises(RuleError) as late:
        rules.undo_target(S.READY, step(S.CALLED, S.READY, seconds_ago=10.001), NOW)
    assert late.value.refusal == Refusal.UNDO_EXPIRED


def test_undo_window_counts_instants_across_time_zones() -> None:
    utc_step = LoggedStep(S.CALLED, S.READY, NOW.astimezone(ZoneInfo("UTC")), True, False)
    assert rules.undo_target(S.READY, utc_step, NOW + timedelta(seconds=9)) == S.CALLED


@pytest.mark.parametrize(
    ("current", "last"),
    [
        pytest.param(S.READY, None, id="no-log"),
        pytest.param(S.ANNOUNCED, step(None, S.ANNOUNCED), id="announcement"),
        pytest.param(S.ANNOUNCED, step(S.SCHEDULED, S.ANNOUNCED), id="alert-came-due"),
        pytest.param(S.CALLED, step(S.CALLED, S.READY), id="state-moved-on-since"),
        pytest.param(S.CANCELLED, step(S.READY, S.CANCELLED, by_staff=False), id="parent-cancel"),
        pytest.param(S.EXPIRED, step(S.READY, S.EXPIRED, by_staff=False), id="end-of-day"),
        pytest.param(S.READY, step(S.CALLED, S.READY, by_staff=False), id="api-step"),
        pytest.param(S.CALLED, step(S.READY, S.CALLED, is_undo=True), id="undo-of-undo"),
    ],
)
def test_only_the_last_staff_step_or_dismissal_can_be_undone(
    current: S, last: LoggedStep | None
) -> None:
    with pytest.raises(RuleError) as refused:
        rules.undo_target(current, last, NOW)
    assert refused.value.refusal == Refusal.NOT_UNDOABLE


@pytest.mark.parametrize("current", [S.ANNOUNCED, S.CALLED, S.READY])
@pytest.mark.parametrize("reason", list(DismissReason))
def test_an_alert_on_the_board_is_dismissed_with_a_known_reason(
    current: S, reason: DismissReason
) -> None:
    assert rules.check_dismiss(current, reason.value) == reason


@pytest.mark.parametrize(
    ("current", "refusal"),
    [
        (S.SCHEDULED, Refusal.NOT_ON_BOARD),
        (S.TRACKING, Refusal.NOT_ON_BOARD),
        (S.DEPARTED, Refusal.FINISHED),
        (S.CANCELLED, Refusal.FINISHED),
        (S.DISMISSED, Refusal.FINISHED),
    ],
)
def test_dismissing_what_is_not_an_alert_is_refused(current: S, refusal: Refusal) -> None:
    with pytest.raises(RuleError) as refused:
        rules.check_dismiss(current, DismissReason.MISTAKE.value)
    assert refused.value.refusal == refusal


def test_dismissing_without_a_known_reason_is_refused() -> None:
    with pytest.raises(RuleError) as refused:
        rules.check_dismiss(S.ANNOUNCED, "because")
    assert refused.value.refusal == Refusal.BAD_REASON


def test_a_dismissed_pickup_is_over_and_takes_no_step() -> None:
    assert S.DISMISSED in rules.FINAL
    assert not rules.can_cancel(S.DISMISSED)
    with pytest.raises(RuleError) as refused:
        rules.check_staff_step(S.DISMISSED, S.CALLED)
    assert refused.value.refusal == Refusal.FINISHED
