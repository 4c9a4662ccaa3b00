"""Narrowing one installation's board to a group view, in memory (no database); what a GPS
arrival's card says of its fix, rendered at an injected now."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

import server.realtime.fragments  # noqa: F401  (registers the board's template globals)
from server.core.i18n import use_locale
from server.core.models import PickupStatus as S
from server.core.templating import render
from server.pickups.board import AlertItem, BoardState, ChildItem, GroupSection, ViewKey
from tests.helpers import T0 as NOW
from tests.helpers import era_board
from tests.unit.board_dom import parse

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


# --- A GPS arrival says how fresh its minutes are ----------------------------------------------


def gps_item(
    status: S = S.TRACKING, *, fix_age_s: float | None = 20, fallen_back: bool = False
) -> AlertItem:
    """Léa's GPS arrival, ~17 min away as of a fix `fix_age_s` seconds before the board's
    now (None: no fix kept); `fallen_back`: the server uses the predicted time, 16:17."""
    arrival = NOW + timedelta(minutes=17)
    return replace(
        alert(7, 101, ERABLES, status),
        child_name="Léa Tremblay",
        mode="gps",
        eta=arrival,
        gps_minutes=17,
        announce_at=arrival - timedelta(minutes=5) if fallen_back else None,
        fix_at=None if fix_age_s is None else NOW - timedelta(seconds=fix_age_s),
    )


def shown(item: AlertItem, locale: str = "fr_CA") -> tuple[str, str]:
    """What the wall's card and the « À venir » line say of `item`, as the server renders
    them at the board's now (board.js then keeps the age current)."""
    state = board(alerts=(item,), upcoming=(item,))
    view = ViewKey(state.installation_id, None, interactive=False, locale=locale)
    with use_locale(locale):
        card = render("board/_alert.html", alert=item, state=state, view=view)
        line = render("board/_upcoming_item.html", item=item, state=state, view=view)
    return tuple(  # type: ignore[return-value]
        " ".join(parse(html).find(target).text().split())  # type: ignore[union-attr]
        for html, target in ((card, "pickup-7"), (line, "upcoming-7"))
    )


@pytest.mark.parametrize(
    ("age", "french", "english"),
    [
        (3, "GPS ~17 min · à l’instant", "GPS ~17 min · just now"),
        (20, "GPS ~17 min · il y a 20 s", "GPS ~17 min · 20 s ago"),
        (59, "GPS ~17 min · il y a 50 s", "GPS ~17 min · 50 s ago"),
        (61, "GPS ~17 min · il y a 1 min", "GPS ~17 min · 1 min ago"),
    ],
)
def test_live_gps_minutes_say_how_old_their_fix_is(age: int, french: str, english: str) -> None:
    card, line = shown(gps_item(S.ANNOUNCED, fix_age_s=age))
    assert french in card and french in line
    assert english in shown(gps_item(S.ANNOUNCED, fix_age_s=age), "en")[0]


def test_no_fix_for_ninety_seconds_says_signal_lost_and_since_when() -> None:
    card, line = shown(gps_item(S.ANNOUNCED, fix_age_s=185))
    assert "GPS · signal perdu (il y a 3 min)" in card and "GPS · signal perdu" in line
    assert "GPS ~17" not in line
    assert "GPS · signal lost (3 min ago)" in shown(gps_item(fix_age_s=185), "en")[1]
    assert "GPS · signal perdu" in shown(gps_item(fix_age_s=None))[1]


def test_once_the_server_fell_back_the_card_shows_the_predicted_time() -> None:
    card, _line = shown(gps_item(S.ANNOUNCED, fix_age_s=None, fallen_back=True))
    assert "heure prévue 16:17" in card and "GPS" not in card
    tracking = gps_item(fix_age_s=None, fallen_back=True)
    assert "heure prévue 16:17 · alerte à 16:12" in shown(tracking)[1]
    assert "expected at 16:17 · alert at 16:12" in shown(tracking, "en")[1]


def test_board_js_gets_what_it_needs_to_keep_the_age_true() -> None:
    item = gps_item(fix_age_s=20)
    state = board(upcoming=(item,))
    with use_locale("fr_CA"):
        html = render("board/_upcoming_item.html", item=item, state=state)
    gps = next(e for e in parse(html).walk() if "data-fix-at" in e.attrs)
    assert gps.attrs["data-fix-at"] == (NOW - timedelta(seconds=20)).isoformat()
    assert gps.attrs["data-lost-at"] == (NOW + timedelta(seconds=70)).isoformat()
    assert gps.attrs["data-live"] == "GPS ~17 min · {age}"
