"""A family page held by a worker, followed from the events' rows in memory (no database):
each child's state, its live pickup, and whether announcing is possible; "reload" when the
page cannot be followed."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.core.models import PickupStatus as S
from server.pickups.events import BoardEvent, ChildRow, PickupRow
from server.pickups.family import ChildCard, FamilyState, apply_family_event
from server.pickups.rules import Refusal
from tests.helpers import ANNOUNCEABLE

Q = ZoneInfo("America/Toronto")
NOW = datetime(2026, 11, 24, 16, 0, tzinfo=Q)
DAY = date(2026, 11, 24)
LEA, NOAH = 1, 2


def card(child_id: int, first: str) -> ChildCard:
    return ChildCard(
        child_id=child_id,
        first_name=first,
        last_name="Tremblay",
        installation_id=1,
        installation_name="Pavillon des Érables",
        timezone="America/Toronto",
        group_name="Les Lutins",
        has_photo=False,
        photo_pending=False,
        state="present",
        pickup_id=None,
        pickup_mode=None,
        eta=None,
        gps_minutes=None,
        refusal=None,
        day=DAY,
        attendance="present",
        facts=ANNOUNCEABLE,
    )


FAMILY = FamilyState(
    guardian_id=9,
    guardian_name="Marie Tremblay",
    guardian_has_photo=False,
    guardian_photo_pending=False,
    now=NOW,
    children=(card(LEA, "Léa"), card(NOAH, "Noah")),
)


def pickup(status: S, pickup_id: int = 50, child_id: int = LEA) -> PickupRow:
    return PickupRow(
        id=pickup_id,
        status=status.value,
        mode="eta",
        child_id=child_id,
        group_id=10,
        child_name="Léa Tremblay",
        guardian_name="Marie Tremblay",
        eta=NOW + timedelta(minutes=10),
        announce_at=NOW + timedelta(minutes=5),
        gps_minutes=None,
        announced_at=None,
        day=DAY,
    )


def event(kind: str = "pickup", **rows: PickupRow | ChildRow) -> BoardEvent:
    child = rows.get("pickup") or rows.get("child")
    child_id = child.child_id if isinstance(child, PickupRow) else getattr(child, "id", 0)
    return BoardEvent(1, 8, kind, children=(child_id,), **rows)  # type: ignore[arg-type]


def lea(state: FamilyState | None) -> ChildCard:
    assert state is not None
    return state.children[0]


def test_an_announcement_shows_the_live_pickup_and_no_second_announcement() -> None:
    after = apply_family_event(FAMILY, event(pickup=pickup(S.SCHEDULED)), NOW)
    assert (lea(after).state, lea(after).pickup_id) == ("scheduled", 50)
    assert lea(after).eta == NOW + timedelta(minutes=10)
    assert lea(after).refusal == Refusal.ALREADY_ANNOUNCED
    assert after is not None and after.children[1] == FAMILY.children[1]  # Noah untouched


def test_steps_then_departure_end_the_day_for_the_child() -> None:
    state: FamilyState | None = FAMILY
    for status in (S.ANNOUNCED, S.CALLED, S.READY):
        assert state is not None
        state = apply_family_event(state, event(pickup=pickup(status)), NOW)
        assert lea(state).state == status
    assert state is not None
    gone = ChildRow(LEA, "Léa", "Tremblay", 10, present=False, departed=True)
    state = apply_family_event(state, event(pickup=pickup(S.DEPARTED), child=gone), NOW)
    assert (lea(state).state, lea(state).pickup_id) == ("departed", None)
    assert lea(state).refusal == Refusal.CHILD_DEPARTED


def test_a_cancelled_arrival_leaves_the_child_as_it_was() -> None:
    on = apply_family_event(FAMILY, event(pickup=pickup(S.ANNOUNCED)), NOW)
    assert on is not None
    off = apply_family_event(on, event(pickup=pickup(S.CANCELLED)), NOW)
    assert (lea(off).state, lea(off).pickup_id, lea(off).refusal) == ("present", None, None)


def test_attendance_says_whether_the_child_can_be_announced() -> None:
    absent = ChildRow(LEA, "Léa", "Tremblay", 10, present=False, departed=False)
    after = apply_family_event(FAMILY, event("attendance", child=absent), NOW)
    assert (lea(after).state, lea(after).refusal) == ("absent", Refusal.CHILD_ABSENT)


def test_what_cannot_be_followed_is_reloaded() -> None:
    moved = ChildRow(LEA, "Léa", "Tremblay", 20, present=True, departed=False)
    assert apply_family_event(FAMILY, event("child_moved", child=moved), NOW) is None
    assert apply_family_event(FAMILY, event(pickup=pickup(S.ANNOUNCED)), NOW + timedelta(1)) is None
    yesterday = replace(pickup(S.ANNOUNCED), day=DAY - timedelta(days=1))
    assert apply_family_event(FAMILY, event(pickup=yesterday), NOW) is None
    newer = apply_family_event(FAMILY, event(pickup=pickup(S.ANNOUNCED, pickup_id=60)), NOW)
    assert newer is not None  # an older pickup changing after a newer one: reload
    assert apply_family_event(newer, event(pickup=pickup(S.EXPIRED, pickup_id=50)), NOW) is None
    rowless = BoardEvent(1, 8, "photo", children=(LEA,))
    assert apply_family_event(FAMILY, rowless, NOW) is None


def test_another_familys_child_changes_nothing() -> None:
    other = apply_family_event(FAMILY, event(pickup=pickup(S.ANNOUNCED, child_id=99)), NOW)
    assert other is not None and other.children == FAMILY.children
