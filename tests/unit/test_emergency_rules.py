"""The pure rules of an emergency's roll: what a press does, the ten-second undo, counts, and
the time until every child was accounted for, with the clock given."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.core.models import EmergencyKind, Role
from server.core.models import RollStatus as S
from server.emergency import rules
from server.emergency.rules import Refusal, RuleError, StartRequest, Step

Q = ZoneInfo("America/Toronto")
START = datetime(2026, 11, 24, 13, 0, tzinfo=Q)


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def request(**changes: object) -> StartRequest:
    values: dict[str, object] = {
        "installation_ids": (1,),
        "kind": EmergencyKind.EVACUATION,
        "drill": True,
        "message": "Exercice",
        "assembly_point": "Parc",
    }
    values.update(changes)
    return StartRequest(**values)  # type: ignore[arg-type]


def test_a_drill_is_an_evacuation_and_a_closure_is_always_real() -> None:
    rules.check_start(request())
    rules.check_start(request(kind=EmergencyKind.CLOSURE, drill=False))
    with pytest.raises(RuleError) as refused:
        rules.check_start(request(kind=EmergencyKind.CLOSURE, drill=True))
    assert refused.value.refusal == Refusal.DRILL_CLOSURE


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({"installation_ids": ()}, Refusal.NO_INSTALLATION),
        ({"message": "x" * 1001}, Refusal.MESSAGE_TOO_LONG),
        ({"assembly_point": "x" * 301}, Refusal.ASSEMBLY_POINT_TOO_LONG),
    ],
)
def test_the_start_form_is_checked(changes: dict[str, object], refusal: Refusal) -> None:
    with pytest.raises(RuleError) as refused:
        rules.check_start(request(**changes))
    assert refused.value.refusal == refusal


def test_a_director_starts_reception_only_when_allowed_educators_never() -> None:
    assert rules.may_start(Role.ADMIN, reception_allowed=False)
    assert not rules.may_start(Role.RECEPTION, reception_allowed=False)
    assert rules.may_start(Role.RECEPTION, reception_allowed=True)
    assert not rules.may_start(Role.EDUCATOR, reception_allowed=True)
    assert rules.may_end(Role.RECEPTION, reception_allowed=True)


def test_only_a_real_emergency_tells_the_families() -> None:
    assert rules.tells_families(drill=False)
    assert not rules.tells_families(drill=True)


def test_present_checks_a_pending_child_and_nothing_else() -> None:
    assert rules.check_target(S.PENDING) == S.PRESENT
    assert rules.check_target(S.PRESENT) is None  # a second tablet's press: no change
    assert rules.check_target(S.RELEASED) is None


def test_an_ended_emergency_takes_no_more_presses() -> None:
    rules.check_active(None)
    with pytest.raises(RuleError) as refused:
        rules.check_active(at(60))
    assert refused.value.refusal == Refusal.NOT_ACTIVE


def test_a_check_can_be_undone_for_exactly_ten_seconds() -> None:
    assert rules.check_undo(S.PRESENT, at(0), at(10)) == S.PENDING
    with pytest.raises(RuleError) as late:
        rules.check_undo(S.PRESENT, at(0), at(10.001))
    assert late.value.refusal == Refusal.UNDO_EXPIRED
    assert rules.undo_deadline(at(5)) == at(15)


def test_the_undo_window_compares_instants_not_wall_clocks() -> None:
    utc = at(0).astimezone(ZoneInfo("UTC"))
    assert rules.can_undo(S.PRESENT, utc, at(9))


@pytest.mark.parametrize("status", [S.PENDING, S.RELEASED])
def test_only_a_check_is_undone(status: S) -> None:
    assert not rules.can_undo(status, at(0), at(1))
    assert not rules.can_undo(S.PRESENT, None, at(1))


def test_a_child_is_released_only_to_an_adult_on_the_family_list() -> None:
    assert rules.can_release(S.PENDING) and rules.can_release(S.PRESENT)
    assert not rules.can_release(S.RELEASED)
    rules.check_release(7, [7, 8])
    with pytest.raises(RuleError) as stranger:
        rules.check_release(99, [7, 8])
    assert stranger.value.refusal == Refusal.NOT_FAMILY


def test_counts_present_and_released_children_as_accounted_for() -> None:
    counted = rules.counts([S.PENDING, S.PRESENT, S.RELEASED, S.PENDING])
    assert (counted.total, counted.accounted, counted.missing) == (4, 2, 2)
    assert not counted.all_accounted
    assert rules.counts([S.PRESENT]).all_accounted
    assert rules.counts([]).all_accounted


def test_time_until_all_accounted_replays_the_timeline_with_its_undos() -> None:
    steps = [
        Step(1, S.PRESENT, at(20)),
        Step(2, S.PRESENT, at(30)),
        Step(2, S.PENDING, at(35)),  # undone: child 2 is missing again
        Step(3, S.RELEASED, at(50)),
        Step(2, S.PRESENT, at(95)),
    ]
    assert rules.all_accounted_at([1, 2, 3], steps) == at(95)
    assert rules.time_to_all_accounted(START, [1, 2, 3], steps) == timedelta(seconds=95)
    # In any order given: the rules sort by time.
    assert rules.time_to_all_accounted(START, [1, 2, 3], reversed(steps)) == timedelta(seconds=95)


def test_no_time_while_a_child_is_missing_and_zero_for_an_empty_roll() -> None:
    assert rules.time_to_all_accounted(START, [1, 2], [Step(1, S.PRESENT, at(5))]) is None
    assert rules.time_to_all_accounted(START, [], []) == timedelta(0)


def test_elapsed_time_stops_at_the_end() -> None:
    assert rules.elapsed(START, at(125)) == timedelta(seconds=125)
    assert rules.elapsed(START, at(500), ended_at=at(300)) == timedelta(seconds=300)
    assert rules.elapsed(START, at(-5)) == timedelta(0)
