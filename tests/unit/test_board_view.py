"""Narrowing one installation's board to a group view, in memory (no database)."""

from __future__ import annotations

from dataclasses import replace

from server.core.models import PickupStatus as S
from server.pickups.board import AlertItem, BoardState, ChildItem, GroupSection
from tests.helpers import T0 as NOW
from tests.helpers import era_board

ERABLES, BOULEAUX, CHENES = 10, 20, 30
GROUPS = ((BOULEAUX, "Les Bouleaux"), (CHENES, "Les Chênes"), (ERABLES, "Les Érables"))


def alert(pickup_id: int, child_id: int, group_id: int, status: S = S.ANNOUNCED) -> AlertItem:
    return AlertItem(
        pickup_id=pickup_id,
        status=status,
        child_id=child_id,
        child_name=f"Enfant {child_id}",
        group_id=group_id,
        group_name=dict(GROUPS)[group_id],
        guardian_name="Marie Tremblay",
        mode="eta",
        eta=NOW.replace(minute=pickup_id),
        announce_at=None,
        gps_minutes=None,
        announced_at=NOW,
    )


def child(child_id: int, group_id: int, present: bool = True) -> ChildItem:
    return ChildItem(
        child_id=child_id,
        first_name="Enfant",
        last_name=str(child_id),
        group_id=group_id,
        present=present,
        departed=False,
    )


def section(group_id: int, *kids: ChildItem) -> GroupSection:
    return GroupSection(
        group_id=group_id,
        name=dict(GROUPS)[group_id],
        present=tuple(k for k in kids if k.present),
        departed=(),
        absent=tuple(k for k in kids if not k.present),
    )


def board(
    alerts: tuple[AlertItem, ...] = (),
    upcoming: tuple[AlertItem, ...] = (),
    sections: tuple[GroupSection, ...] = (),
) -> BoardState:
    return era_board(GROUPS, sections, alerts, upcoming)


FULL = board(
    alerts=(
        alert(1, 101, ERABLES),
        alert(2, 201, BOULEAUX, S.CALLED),
        alert(3, 102, ERABLES, S.READY),
    ),
    upcoming=(alert(4, 202, BOULEAUX, S.SCHEDULED), alert(5, 103, ERABLES, S.TRACKING)),
    sections=(
        section(BOULEAUX, child(201, BOULEAUX), child(202, BOULEAUX)),
        section(CHENES),
        section(ERABLES, child(101, ERABLES), child(102, ERABLES), child(103, ERABLES, False)),
    ),
)


def pickup_ids(items: tuple[AlertItem, ...]) -> list[int]:
    return [a.pickup_id for a in items]


def test_all_groups_view_is_the_whole_board() -> None:
    assert FULL.for_view(None) == FULL


def test_group_view_keeps_only_that_groups_alerts_upcoming_and_section() -> None:
    view = FULL.for_view(ERABLES)
    assert pickup_ids(view.alerts) == [1, 3]  # order kept
    assert pickup_ids(view.upcoming) == [5]
    assert [s.group_id for s in view.sections] == [ERABLES]
    assert [c.child_id for c in view.sections[0].present] == [101, 102]

    other = FULL.for_view(BOULEAUX)
    assert pickup_ids(other.alerts) == [2]
    assert pickup_ids(other.upcoming) == [4]
    assert [s.group_id for s in other.sections] == [BOULEAUX]


def test_group_view_keeps_the_rest_of_the_board() -> None:
    view = FULL.for_view(ERABLES)
    assert view.groups == GROUPS  # the group picker still lists every group
    assert (view.installation_id, view.seq, view.now, view.timezone) == (1, 42, NOW, FULL.timezone)
    assert view.preparation_minutes == 5


def test_group_view_does_not_change_the_full_board() -> None:
    FULL.for_view(ERABLES)
    assert pickup_ids(FULL.alerts) == [1, 2, 3]
    assert len(FULL.sections) == 3


def test_group_without_alerts_shows_an_empty_board_with_its_section() -> None:
    view = FULL.for_view(CHENES)
    assert view.alerts == () and view.upcoming == ()
    assert [s.group_id for s in view.sections] == [CHENES]


def test_unknown_group_shows_nothing() -> None:
    view = FULL.for_view(999)
    assert view.alerts == () and view.upcoming == () and view.sections == ()


def test_an_alert_follows_a_child_moved_to_another_group() -> None:
    # Child 101 moved from les Érables to les Chênes after the announcement: the board is
    # loaded with the child's group *now*.
    moved = replace(FULL.alerts[0], group_id=CHENES, group_name="Les Chênes")
    state = replace(
        FULL,
        alerts=(moved, *FULL.alerts[1:]),
        sections=(
            FULL.sections[0],
            section(CHENES, child(101, CHENES)),
            section(ERABLES, child(102, ERABLES), child(103, ERABLES, False)),
        ),
    )
    new_group = state.for_view(CHENES)
    old_group = state.for_view(ERABLES)
    assert pickup_ids(new_group.alerts) == [1]
    assert [c.child_id for c in new_group.sections[0].present] == [101]
    assert 1 not in pickup_ids(old_group.alerts)
    assert pickup_ids(old_group.alerts) == [3]
    assert all(c.child_id != 101 for s in old_group.sections for c in s.present)


def test_an_upcoming_pickup_also_follows_the_child() -> None:
    moved = replace(FULL.upcoming[0], group_id=CHENES, group_name="Les Chênes")
    state = replace(FULL, upcoming=(moved, *FULL.upcoming[1:]))
    assert pickup_ids(state.for_view(CHENES).upcoming) == [4]
    assert pickup_ids(state.for_view(BOULEAUX).upcoming) == []


def test_group_name_lookup() -> None:
    assert FULL.group_name(ERABLES) == "Les Érables"
    assert FULL.group_name(CHENES) == "Les Chênes"
    assert FULL.group_name(999) is None
    assert FULL.group_name(None) is None
    # A group view still names every group (the picker shows them all).
    assert FULL.for_view(ERABLES).group_name(BOULEAUX) == "Les Bouleaux"


def test_alert_offers_the_next_staff_step() -> None:
    assert [a.next_status for a in FULL.alerts] == [S.CALLED, S.READY, S.DEPARTED]
    assert [a.next_status for a in FULL.upcoming] == [None, None]
