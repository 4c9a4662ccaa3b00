"""A held board kept current from the events' rows, in memory (no database): what
`apply_event` makes of each kind of event, when it says "reload", and what `board_changes`
tells one view to redraw."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from server.core.models import PickupStatus as S
from server.pickups.board import (
    AlertItem,
    ChildItem,
    GroupSection,
    apply_event,
    arrivals,
    board_changes,
)
from server.pickups.events import BoardEvent, ChildRow, PickupRow
from tests.helpers import T0 as NOW
from tests.helpers import era_board

DAY = NOW.date()
LUTINS, HIBOUX = 10, 20
GROUPS = ((HIBOUX, "Les Hiboux"), (LUTINS, "Les Lutins"))


def kid(child_id: int, first: str, group_id: int, present: bool = True) -> ChildItem:
    return ChildItem(child_id, first, "Tremblay", group_id, present=present, departed=False)


def section(group_id: int, *kids: ChildItem) -> GroupSection:
    return GroupSection(
        group_id,
        dict(GROUPS)[group_id],
        present=tuple(k for k in kids if k.present),
        departed=tuple(k for k in kids if k.departed),
        absent=tuple(k for k in kids if not k.present and not k.departed),
    )


BOARD = era_board(
    GROUPS,
    sections=(
        section(HIBOUX, kid(3, "Zoé", HIBOUX)),
        section(LUTINS, kid(1, "Léa", LUTINS), kid(2, "Noah", LUTINS, present=False)),
    ),
    seq=7,
)


def pickup_row(
    pickup_id: int = 50,
    status: S = S.ANNOUNCED,
    child_id: int = 1,
    group_id: int = LUTINS,
    eta: datetime | None = NOW,
) -> PickupRow:
    return PickupRow(
        id=pickup_id,
        status=status.value,
        mode="eta",
        child_id=child_id,
        group_id=group_id,
        child_name="Léa Tremblay",
        guardian_name="Marie Tremblay",
        eta=eta,
        announce_at=None if eta is None else eta - timedelta(minutes=5),
        gps_minutes=None,
        announced_at=NOW if status not in (S.SCHEDULED, S.TRACKING) else None,
        day=DAY,
    )


def child_row(
    child_id: int = 1,
    group_id: int = LUTINS,
    present: bool = True,
    departed: bool = False,
    first: str = "Léa",
) -> ChildRow:
    return ChildRow(child_id, first, "Tremblay", group_id, present=present, departed=departed)


def event(seq: int = 8, kind: str = "pickup", **rows: PickupRow | ChildRow) -> BoardEvent:
    return BoardEvent(1, seq, kind, **rows)  # type: ignore[arg-type]


LATER = NOW + timedelta(seconds=30)


def test_an_announcement_puts_an_alert_on_the_board() -> None:
    after = apply_event(BOARD, event(pickup=pickup_row()), LATER)
    assert after is not None
    [alert] = after.alerts
    assert (alert.pickup_id, alert.status, alert.group_name) == (50, S.ANNOUNCED, "Les Lutins")
    assert (after.seq, after.now) == (8, LATER)
    assert after.sections == BOARD.sections


def test_a_scheduled_arrival_waits_in_upcoming_then_moves_to_the_alerts() -> None:
    scheduled = apply_event(BOARD, event(pickup=pickup_row(status=S.SCHEDULED)), NOW)
    assert scheduled is not None
    assert scheduled.alerts == () and [a.pickup_id for a in scheduled.upcoming] == [50]
    announced = apply_event(scheduled, event(9, pickup=pickup_row(status=S.ANNOUNCED)), NOW)
    assert announced is not None
    assert [a.pickup_id for a in announced.alerts] == [50] and announced.upcoming == ()
    assert arrivals(scheduled, announced) == {50}  # boards showing it chime


def test_alerts_stay_in_order_of_arrival() -> None:
    state = BOARD
    for seq, (pickup_id, minutes) in enumerate([(60, 20), (61, 5), (62, 10)], start=8):
        eta = NOW + timedelta(minutes=minutes)
        applied = apply_event(state, event(seq, pickup=pickup_row(pickup_id, eta=eta)), NOW)
        assert applied is not None
        state = applied
    assert [a.pickup_id for a in state.alerts] == [61, 62, 60]
    assert [a.sort_key for a in state.alerts] == sorted(a.sort_key for a in state.alerts)


def test_a_final_step_takes_the_alert_off_and_a_departure_moves_the_child() -> None:
    on = apply_event(BOARD, event(pickup=pickup_row()), NOW)
    assert on is not None
    gone = apply_event(
        on,
        event(
            9,
            pickup=pickup_row(status=S.DEPARTED),
            child=child_row(present=False, departed=True),
        ),
        NOW,
    )
    assert gone is not None
    assert gone.alerts == ()
    lutins = gone.sections[1]
    assert [c.child_id for c in lutins.departed] == [1]
    assert [c.child_id for c in lutins.present] == []
    cancelled = apply_event(on, event(9, pickup=pickup_row(status=S.CANCELLED)), NOW)
    assert cancelled is not None and cancelled.alerts == ()


def test_a_check_in_moves_the_child_from_not_arrived_to_present_in_name_order() -> None:
    after = apply_event(BOARD, event(kind="attendance", child=child_row(2, first="Noah")), NOW)
    assert after is not None
    lutins = after.sections[1]
    assert [c.first_name for c in lutins.present] == ["Léa", "Noah"]
    assert lutins.absent == ()


def test_a_moved_child_takes_its_live_pickup_to_its_new_group() -> None:
    on = apply_event(BOARD, event(pickup=pickup_row()), NOW)
    assert on is not None
    moved = apply_event(on, event(9, "child_moved", child=child_row(group_id=HIBOUX)), NOW)
    assert moved is not None
    [alert] = moved.alerts
    assert (alert.group_id, alert.group_name) == (HIBOUX, "Les Hiboux")
    hiboux, lutins = moved.sections
    assert [c.first_name for c in hiboux.present] == ["Léa", "Zoé"]
    assert [c.child_id for c in (*lutins.present, *lutins.absent)] == [2]
    assert arrivals(on, moved) == frozenset()  # not a new arrival: nobody chimes
    assert [a.pickup_id for a in moved.for_view(HIBOUX).alerts] == [50]
    assert moved.for_view(LUTINS).alerts == ()


def test_a_change_that_raced_a_move_does_not_undo_it() -> None:
    """A step read the child's group just before a move committed, and took the next
    number after it: its row names the old group. The board keeps the child where the
    move put it, alert and line alike."""
    on = apply_event(BOARD, event(pickup=pickup_row()), NOW)
    moved = on and apply_event(on, event(9, "child_moved", child=child_row(group_id=HIBOUX)), NOW)
    assert moved is not None
    stale_step = event(10, pickup=pickup_row(status=S.CALLED, group_id=LUTINS))
    called = apply_event(moved, stale_step, NOW)
    assert called is not None
    assert [(a.group_id, a.status) for a in called.alerts] == [(HIBOUX, S.CALLED)]
    stale_absence = event(11, "attendance", child=child_row(group_id=LUTINS, present=False))
    absent = apply_event(called, stale_absence, NOW)
    assert absent is not None
    hiboux, lutins = absent.sections
    assert [c.child_id for c in hiboux.absent] == [1]
    assert all(c.child_id != 1 for c in (*lutins.present, *lutins.absent))


def test_names_sort_without_regard_to_case_or_accents() -> None:
    state = replace(BOARD, sections=(section(HIBOUX), section(LUTINS)))
    names = ["élodie", "Zoé", "Émile", "aaron", "Éa"]
    kids = [kid(i, name, LUTINS) for i, name in enumerate(names, start=1)]
    state = replace(state, sections=(section(HIBOUX), section(LUTINS, *kids)))
    for seq, item in enumerate(kids, start=8):
        row = child_row(item.child_id, present=True, first=item.first_name)
        applied = apply_event(state, event(seq, "attendance", child=row), NOW)
        assert applied is not None
        state = applied
    shown = [c.first_name for c in state.sections[1].present]
    assert shown == ["aaron", "Éa", "élodie", "Émile", "Zoé"]


def test_any_doubt_asks_for_a_reload() -> None:
    row = pickup_row()
    assert apply_event(BOARD, event(9, pickup=row), NOW) is None  # a gap
    assert apply_event(BOARD, event(7, pickup=row), NOW) is None  # not the next one
    assert apply_event(BOARD, event(kind="roster"), NOW) is None  # unknown kind
    assert apply_event(BOARD, event(kind="pickup"), NOW) is None  # no rows
    assert apply_event(BOARD, event(kind="attendance", pickup=row), NOW) is None  # wrong row
    assert apply_event(BOARD, event(pickup=row), NOW + timedelta(days=1)) is None  # new day
    assert apply_event(BOARD, event(pickup=pickup_row(group_id=99)), NOW) is None
    assert apply_event(BOARD, event(pickup=replace(row, status="lost")), NOW) is None
    unknown_child = child_row(child_id=99)
    assert apply_event(BOARD, event(kind="attendance", child=unknown_child), NOW) is None
    assert apply_event(BOARD, event(kind="child_moved", child=child_row(group_id=99)), NOW) is None


def test_another_days_pickup_is_not_on_the_board() -> None:
    """Yesterday's leftovers expire after midnight: nothing to show, nothing to reload."""
    yesterday = replace(pickup_row(status=S.EXPIRED), day=DAY - timedelta(days=1))
    after = apply_event(BOARD, event(pickup=yesterday), NOW)
    assert after is not None and after.alerts == () and after.upcoming == ()
    live_yesterday = replace(pickup_row(), day=DAY - timedelta(days=1))
    after = apply_event(BOARD, event(pickup=live_yesterday), NOW)
    assert after is not None and after.alerts == ()


def test_a_view_is_told_only_the_rows_that_changed() -> None:
    on = apply_event(BOARD, event(pickup=pickup_row()), NOW)
    called = on and apply_event(on, event(9, pickup=pickup_row(status=S.CALLED)), NOW)
    assert on is not None and called is not None
    first = board_changes(BOARD, on)
    assert first.alerts_whole  # the list appears: the alerts region is sent whole
    assert first.alerts == () and first.removed == () and first.sections == ()

    step = board_changes(on, called)
    assert not step.alerts_whole and not step.alerts_count
    assert [a.status for a in step.alerts] == [S.CALLED]
    assert step.removed == ("pickup-50",)  # the old card goes, the new one is placed
    assert step.upcoming == () and step.children == () and step.sections == ()

    # A view that does not show the alert has nothing to redraw.
    assert board_changes(on.for_view(HIBOUX), called.for_view(HIBOUX)).empty


def test_a_check_in_redraws_one_row_and_the_counters() -> None:
    after = apply_event(BOARD, event(kind="attendance", child=child_row(2, first="Noah")), NOW)
    assert after is not None
    changes = board_changes(BOARD, after)
    # Noah was the last not arrived: that list goes, so his section is sent whole.
    [lutins] = changes.sections
    assert lutins.whole and lutins.section.group_id == LUTINS
    assert changes.children == ()  # inside the whole section already

    more = replace(
        BOARD,
        sections=(
            BOARD.sections[0],
            section(
                LUTINS,
                kid(1, "Léa", LUTINS),
                kid(2, "Noah", LUTINS, present=False),
                kid(4, "Anna", LUTINS, present=False),
            ),
        ),
    )
    after = apply_event(more, event(kind="attendance", child=child_row(2, first="Noah")), NOW)
    assert after is not None
    changes = board_changes(more, after)
    [lutins] = changes.sections
    assert not lutins.whole and lutins.counts
    assert [c.child_id for c in changes.children] == [2]
    assert changes.removed == ("child-2",)


def test_a_new_frame_sends_the_whole_board() -> None:
    renamed = replace(BOARD, groups=((HIBOUX, "Les Chouettes"), (LUTINS, "Les Lutins")))
    assert board_changes(BOARD, renamed).whole
    next_day = replace(BOARD, day=DAY + timedelta(days=1))
    assert board_changes(BOARD, next_day).whole


def test_sort_keys_order_like_the_rows() -> None:
    early = replace(alert_item(1), eta=NOW)
    late = replace(alert_item(2), eta=NOW + timedelta(hours=1))
    unknown = replace(alert_item(3), eta=None, announced_at=None, announce_at=None)
    assert early.sort_key < late.sort_key < unknown.sort_key
    assert len({early.sort_key, late.sort_key, unknown.sort_key}) == 3


def alert_item(pickup_id: int) -> AlertItem:
    return AlertItem(
        pickup_id=pickup_id,
        status=S.ANNOUNCED,
        child_id=1,
        child_name="Léa Tremblay",
        group_id=LUTINS,
        group_name="Les Lutins",
        guardian_name="Marie Tremblay",
        mode="eta",
        eta=NOW,
        announce_at=None,
        gps_minutes=None,
        announced_at=NOW,
    )
