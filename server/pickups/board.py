"""The read model of a presence board: what one installation's board shows right now.

Loaded from the database for the whole installation, then narrowed per view (group filter)
in memory. A worker holding a board keeps it current with `apply_event` (the rows an event
carries, no database) and sends each view only `board_changes` between two states of it.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.collation import name_key_text, sort_by_name
from ..core.models import (
    Attendance,
    Child,
    Group,
    Guardian,
    Installation,
    Pickup,
    PickupMode,
    PickupStatus,
)
from . import rules
from .eta import SIGNAL_LOST_AFTER, Signal, fix_step, gps_signal
from .events import BoardEvent, ChildRow, PickupRow
from .writes import LAST_FIX


@dataclass(frozen=True)
class ViewKey:
    """One variant of a board: every socket with the same key gets the same bytes."""

    installation_id: int
    group_id: int | None  # None: all groups
    interactive: bool  # staff tablets have buttons; wall displays only show
    locale: str


@dataclass(frozen=True)
class AlertItem:
    pickup_id: int
    status: PickupStatus
    child_id: int
    child_name: str
    group_id: int
    group_name: str
    guardian_name: str
    mode: str
    eta: datetime | None
    announce_at: datetime | None
    gps_minutes: int | None
    announced_at: datetime | None
    # Who announced, and the approved photos (stored names; None: initials instead).
    guardian_id: int = 0
    child_photo: str | None = None
    guardian_photo: str | None = None
    # GPS: the latest fix as boards show it (eta.fix_step), None once the server fell back
    # to the predicted time (then only that time is shown) or when no position is kept.
    fix_at: datetime | None = None

    @property
    def next_status(self) -> PickupStatus | None:
        return rules.staff_next(self.status)

    @property
    def fallen_back(self) -> bool:
        """A GPS arrival whose phone went silent: the server uses its predicted time (the
        last estimate's arrival moment), alerted at `announce_at` like one given by time."""
        return self.mode == PickupMode.GPS and self.announce_at is not None

    @property
    def lost_at(self) -> datetime | None:
        """When boards start saying « signal perdu » unless a new fix comes."""
        return None if self.fix_at is None else self.fix_at + SIGNAL_LOST_AFTER

    def gps_signal(self, now: datetime) -> Signal:
        return gps_signal(self.fix_at, self.fallen_back, now)

    @property
    def child_initials(self) -> str:
        return _initials(self.child_name)

    @property
    def guardian_initials(self) -> str:
        return _initials(self.guardian_name)

    @property
    def sort_key(self) -> str:
        return _arrival_key(self)


def _board_fix(
    mode: str, announce_at: datetime | None, last_fix: datetime | None
) -> datetime | None:
    """What a board holds of a pickup's latest fix: its FIX_STEP, while GPS minutes are shown."""
    if mode != PickupMode.GPS or announce_at is not None or last_fix is None:
        return None
    return fix_step(last_fix.astimezone(UTC))


def _initials(name: str) -> str:
    return "".join(part[:1] for part in name.split()[:2]).upper()


@dataclass(frozen=True)
class ChildItem:
    child_id: int
    first_name: str
    last_name: str
    group_id: int
    present: bool
    departed: bool

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def initials(self) -> str:
        return (self.first_name[:1] + self.last_name[:1]).upper()

    @property
    def sort_key(self) -> str:
        return _name_key(self.first_name, self.last_name, self.child_id)


@dataclass(frozen=True)
class GroupSection:
    group_id: int
    name: str
    present: tuple[ChildItem, ...]
    departed: tuple[ChildItem, ...]
    absent: tuple[ChildItem, ...]


@dataclass(frozen=True)
class BoardState:
    installation_id: int
    installation_name: str
    timezone: str
    preparation_minutes: int
    seq: int
    now: datetime
    day: date  # the installation's local day the board shows (it starts afresh each day)
    groups: tuple[tuple[int, str], ...]  # every group of the installation, by name
    alerts: tuple[AlertItem, ...]  # on the board, ordered by arrival
    upcoming: tuple[AlertItem, ...]  # scheduled or tracking, ordered by arrival
    # Only the sections that were loaded (all of them for a page or snapshot).
    sections: tuple[GroupSection, ...] = field(default=())
    # An alert waiting longer than this is highlighted and chimes again.
    overdue_minutes: int = 3

    def for_view(self, group_id: int | None) -> BoardState:
        """The same board narrowed to one group; the group used is the child's group *now*."""
        if group_id is None:
            return self
        return replace(
            self,
            alerts=tuple(a for a in self.alerts if a.group_id == group_id),
            upcoming=tuple(a for a in self.upcoming if a.group_id == group_id),
            sections=tuple(s for s in self.sections if s.group_id == group_id),
        )

    def group_name(self, group_id: int | None) -> str | None:
        return next((name for gid, name in self.groups if gid == group_id), None)


# Sort keys are strings that order the same in Python and in board.js (which inserts a
# row arriving live at its place by comparing them): fixed-width digits for instants, and
# for names the collation key in hex (ASCII: JavaScript compares it as Python does).
_NEVER = datetime.max.replace(tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _arrival_key(item: AlertItem) -> str:
    """Alerts and upcoming arrivals by expected arrival, then by pickup."""
    moment = item.eta or item.announced_at or item.announce_at or _NEVER
    micros = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // _MICROSECOND
    return f"{micros:018d}.{item.pickup_id:010d}"


def _name_key(first_name: str, last_name: str, child_id: int) -> str:
    """Children by first then last name in the language's dictionary order (Élodie among the
    E's), then by id so that two children of the same name keep one order. The collation key
    is hex: JavaScript compares it as Python does (a tab sorts before any hex digit)."""
    name = name_key_text(f"{first_name}\t{last_name}")
    return f"{name}\t{child_id:010d}"


def _js_order(key: str) -> bytes:
    return key.encode("utf-16-be")


# The board's three reads, built once: building a statement costs about as much as running
# it, and they run for every change of every installation.
_GROUPS = (
    select(col(Group.id), col(Group.name))
    .where(col(Group.installation_id) == bindparam("installation_id"))
    .order_by(col(Group.id))
)
_LIVE_PICKUPS = (
    select(
        col(Pickup.id),
        col(Pickup.status),
        col(Pickup.mode),
        col(Pickup.eta),
        col(Pickup.announce_at),
        col(Pickup.gps_minutes),
        col(Pickup.announced_at),
        col(Child.id),
        col(Child.first_name),
        col(Child.last_name),
        col(Child.group_id),
        col(Guardian.first_name),
        col(Guardian.last_name),
        col(Guardian.id),
        col(Child.photo),
        col(Guardian.photo),
        LAST_FIX,
    )
    .join(Child, col(Child.id) == col(Pickup.child_id))
    .join(Guardian, col(Guardian.id) == col(Pickup.guardian_id))
    .where(
        col(Pickup.installation_id) == bindparam("installation_id"),
        col(Pickup.day) == bindparam("day"),
        col(Pickup.status).in_(rules.LIVE),
    )
)
# Plain columns, not ORM objects: a board may list hundreds of children.
_CHILDREN = (
    select(
        col(Child.id),
        col(Child.first_name),
        col(Child.last_name),
        col(Child.group_id),
        col(Attendance.id),
        col(Attendance.checked_out_at),
    )
    .outerjoin(
        Attendance,
        (col(Attendance.child_id) == col(Child.id)) & (col(Attendance.day) == bindparam("day")),
    )
    .where(
        col(Child.installation_id) == bindparam("installation_id"),
        col(Child.active).is_(True),
        col(Child.group_id).in_(bindparam("group_ids", expanding=True)),
    )
    # Ordered here, not by the database: a collation (PostgreSQL's) would disagree with the
    # order a held board keeps when it places a child itself.
)


async def load_board(
    session: AsyncSession,
    installation: Installation,
    now: datetime,
    section_group_ids: set[int] | None = None,
) -> BoardState:
    """Load the installation's live board. `section_group_ids`: None loads every group's
    children; a set loads only those sections (what an event touched)."""
    assert installation.id is not None
    day = rules.local_day(now, installation.timezone)
    groups = sort_by_name(
        (await session.execute(_GROUPS, {"installation_id": installation.id})).all(),
        key=lambda row: str(row[1]),
    )
    group_names: dict[int, str] = {int(gid): name for gid, name in groups if gid is not None}

    rows = (
        await session.execute(_LIVE_PICKUPS, {"installation_id": installation.id, "day": day})
    ).all()
    alerts: list[AlertItem] = []
    upcoming: list[AlertItem] = []
    for row in rows:
        values: tuple[Any, ...] = tuple(row)  # seventeen columns: past typed tuples' length
        (pickup_id, status, mode, eta, announce_at, gps_minutes, announced_at) = values[:7]
        child_id, child_first, child_last, group_id, guardian_first, guardian_last = values[7:13]
        guardian_id, child_photo, guardian_photo, last_fix = values[13:17]
        assert pickup_id is not None and child_id is not None
        item = AlertItem(
            pickup_id=pickup_id,
            status=PickupStatus(status),
            child_id=child_id,
            child_name=f"{child_first} {child_last}",
            group_id=group_id,
            group_name=group_names.get(group_id, ""),
            guardian_name=f"{guardian_first} {guardian_last}",
            mode=mode,
            eta=eta,
            announce_at=announce_at,
            gps_minutes=gps_minutes,
            announced_at=announced_at,
            guardian_id=guardian_id or 0,
            child_photo=child_photo,
            guardian_photo=guardian_photo,
            fix_at=_board_fix(mode, announce_at, last_fix),
        )
        (alerts if item.status in rules.ON_BOARD else upcoming).append(item)

    sections: list[GroupSection] = []
    wanted = [gid for gid in group_names if section_group_ids is None or gid in section_group_ids]
    if wanted:
        child_rows = (
            await session.execute(
                _CHILDREN,
                {"installation_id": installation.id, "day": day, "group_ids": wanted},
            )
        ).all()
        by_group: dict[int, list[ChildItem]] = {gid: [] for gid in wanted}
        for child_id, first_name, last_name, group_id, attendance_id, checked_out_at in child_rows:
            assert child_id is not None  # a primary key, never null once stored
            checked_in = attendance_id is not None
            by_group[group_id].append(
                ChildItem(
                    child_id=child_id,
                    first_name=first_name,
                    last_name=last_name,
                    group_id=group_id,
                    present=checked_in and checked_out_at is None,
                    departed=checked_in and checked_out_at is not None,
                )
            )
        for gid in wanted:
            kids = sorted(by_group[gid], key=lambda c: _js_order(c.sort_key))
            sections.append(
                GroupSection(
                    group_id=gid,
                    name=group_names[gid],
                    present=tuple(c for c in kids if c.present),
                    departed=tuple(c for c in kids if c.departed),
                    absent=tuple(c for c in kids if not c.present and not c.departed),
                )
            )

    return BoardState(
        installation_id=installation.id,
        installation_name=installation.name,
        timezone=installation.timezone,
        preparation_minutes=installation.preparation_minutes,
        seq=installation.event_seq,
        now=now,
        day=day,
        groups=tuple(group_names.items()),
        alerts=tuple(sorted(alerts, key=_arrival_key)),
        upcoming=tuple(sorted(upcoming, key=_arrival_key)),
        sections=tuple(sections),
        overdue_minutes=installation.overdue_minutes,
    )


# -- keeping a held board current ---------------------------------------------------------

# The kinds of event whose rows a held board knows how to apply; any other kind (a roster
# import, a photo decision, …) reloads it.
_ROWS_NEEDED = {"pickup": ("pickup",), "attendance": ("child",), "child_moved": ("child",)}


def apply_event(state: BoardState, event: BoardEvent, now: datetime) -> BoardState | None:
    """The whole board (every section loaded) after `event`, from the rows it carries, as of
    `now`. None means "reload from the database": the event is not the next one, it lacks
    the rows its kind needs, it is of an unknown kind, the local day has turned, or a row
    names something this board does not hold (an unknown group or child)."""
    needed = _ROWS_NEEDED.get(event.kind)
    if (
        needed is None
        or event.seq != state.seq + 1
        or rules.local_day(now, state.timezone) != state.day
        or any(getattr(event, name) is None for name in needed)
    ):
        return None
    # A child changes group only by a move, applied in its turn: a row read by a change
    # that raced a move may name the group before it, so the board keeps its own. (A group
    # it has never heard of is a doubt all the same.)
    groups = {c.child_id: c.group_id for c in _children(state)}
    named = [row.group_id for row in (event.pickup, event.child) if row is not None]
    if any(state.group_name(group_id) is None for group_id in named):
        return None
    after = state
    if event.pickup is not None:
        row = event.pickup
        patched = _apply_pickup(
            after, replace(row, group_id=groups.get(row.child_id, row.group_id))
        )
        if patched is None:
            return None
        after = patched
    if event.child is not None:
        child = event.child
        if event.kind != "child_moved":
            child = replace(child, group_id=groups.get(child.id, child.group_id))
        patched = _apply_child(after, child)
        if patched is None:
            return None
        after = patched
    return replace(after, seq=event.seq, now=now)


def _apply_pickup(state: BoardState, row: PickupRow) -> BoardState | None:
    group_name = state.group_name(row.group_id)
    if group_name is None:
        return None
    try:
        status = PickupStatus(row.status)
    except ValueError:
        return None
    alerts = [a for a in state.alerts if a.pickup_id != row.id]
    upcoming = [a for a in state.upcoming if a.pickup_id != row.id]
    # Another day's pickup (yesterday's, expiring after midnight) is not on this board.
    if status in rules.LIVE and row.day == state.day:
        item = AlertItem(
            pickup_id=row.id,
            status=status,
            child_id=row.child_id,
            child_name=row.child_name,
            group_id=row.group_id,
            group_name=group_name,
            guardian_name=row.guardian_name,
            mode=row.mode,
            eta=_utc(row.eta),
            announce_at=_utc(row.announce_at),
            gps_minutes=row.gps_minutes,
            announced_at=_utc(row.announced_at),
            guardian_id=row.guardian_id,
            child_photo=row.child_photo,
            guardian_photo=row.guardian_photo,
            fix_at=_board_fix(row.mode, row.announce_at, row.last_fix_at),
        )
        insort(alerts if status in rules.ON_BOARD else upcoming, item, key=_arrival_key)
    return replace(state, alerts=tuple(alerts), upcoming=tuple(upcoming))


def _apply_child(state: BoardState, row: ChildRow) -> BoardState | None:
    """The child's line, in its group now; its live pickups follow it (group and name)."""
    group_name = state.group_name(row.group_id)
    known = {c.child_id for s in state.sections for c in (*s.present, *s.departed, *s.absent)}
    target = next((s for s in state.sections if s.group_id == row.group_id), None)
    if group_name is None or row.id not in known or target is None:
        return None
    child = ChildItem(
        child_id=row.id,
        first_name=row.first_name,
        last_name=row.last_name,
        group_id=row.group_id,
        present=row.present and not row.departed,
        departed=row.departed,
    )
    sections = []
    for section in state.sections:
        kids = [c for c in (*section.present, *section.departed, *section.absent)]
        if section.group_id == row.group_id or any(c.child_id == row.id for c in kids):
            kids = [c for c in kids if c.child_id != row.id]
            if section.group_id == row.group_id:
                kids.append(child)
            section = _section(section.group_id, section.name, kids)
        sections.append(section)

    def follow(item: AlertItem) -> AlertItem:
        if item.child_id != row.id:
            return item
        name = f"{row.first_name} {row.last_name}"
        return replace(item, group_id=row.group_id, group_name=group_name, child_name=name)

    return replace(
        state,
        alerts=tuple(follow(a) for a in state.alerts),
        upcoming=tuple(follow(a) for a in state.upcoming),
        sections=tuple(sections),
    )


def _section(group_id: int, name: str, kids: list[ChildItem]) -> GroupSection:
    kids.sort(key=lambda c: _js_order(c.sort_key))
    return GroupSection(
        group_id=group_id,
        name=name,
        present=tuple(c for c in kids if c.present),
        departed=tuple(c for c in kids if c.departed),
        absent=tuple(c for c in kids if not c.present and not c.departed),
    )


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.astimezone(UTC)


def same_board(a: BoardState, b: BoardState) -> bool:
    """The same board, whenever each was worked out (`now` aside)."""
    return replace(a, now=b.now) == b


def arrivals(before: BoardState, after: BoardState) -> frozenset[int]:
    """Alerts that appeared in this view (`before` and `after` narrowed to it): new ones,
    and those whose child was moved into its group. Boards chime for them."""
    known = {a.pickup_id for a in before.alerts}
    return frozenset(a.pickup_id for a in after.alerts if a.pickup_id not in known)


# -- what one view shows differently -------------------------------------------------------


@dataclass(frozen=True)
class SectionChange:
    section: GroupSection  # as it is now
    whole: bool  # its "not arrived" or "gone home" list appeared or went: send it whole
    counts: bool  # one of its counters changed


@dataclass(frozen=True)
class BoardChanges:
    """The difference between two states of one view. Rows are removed by id, and changed
    or new ones placed in their list; a region whose shape changed (a list that became
    empty or stopped being so) is sent whole, so is the whole board when its frame changed."""

    whole: bool = False
    removed: tuple[str, ...] = ()  # element ids: rows gone, and rows about to be re-placed
    alerts_whole: bool = False
    alerts: tuple[AlertItem, ...] = ()
    alerts_count: bool = False
    upcoming_whole: bool = False
    upcoming: tuple[AlertItem, ...] = ()
    upcoming_count: bool = False
    children: tuple[ChildItem, ...] = ()
    sections: tuple[SectionChange, ...] = ()

    @property
    def empty(self) -> bool:
        return self == _NO_CHANGE


_NO_CHANGE = BoardChanges()


def _frame(state: BoardState) -> tuple[object, ...]:
    return (
        state.installation_id,
        state.installation_name,
        state.timezone,
        state.preparation_minutes,
        state.overdue_minutes,
        state.day,
        state.groups,
        tuple((s.group_id, s.name) for s in state.sections),
    )


def board_changes(before: BoardState, after: BoardState) -> BoardChanges:
    """What `after` shows differently from `before`, two states of the same view."""
    if _frame(before) != _frame(after):
        return BoardChanges(whole=True)
    removed: list[str] = []

    alerts_whole = bool(before.alerts) != bool(after.alerts)
    alerts = _rows(before.alerts, after.alerts, "pickup-", _pickup_id, removed, alerts_whole)
    upcoming_whole = bool(before.upcoming) != bool(after.upcoming)
    upcoming = _rows(
        before.upcoming, after.upcoming, "upcoming-", _pickup_id, removed, upcoming_whole
    )

    sections: list[SectionChange] = []
    whole_groups: set[int] = set()
    for old, new in zip(before.sections, after.sections, strict=True):
        whole = bool(old.absent) != bool(new.absent) or bool(old.departed) != bool(new.departed)
        counts = (len(old.present), len(old.absent), len(old.departed)) != (
            len(new.present),
            len(new.absent),
            len(new.departed),
        )
        if whole:
            whole_groups.add(new.group_id)
        if whole or counts:
            sections.append(SectionChange(new, whole, counts))
    children = [
        c
        for c in _rows(
            _children(before), _children(after), "child-", _child_id, removed, whole=False
        )
        if c.group_id not in whole_groups
    ]
    return BoardChanges(
        removed=tuple(removed),
        alerts_whole=alerts_whole,
        alerts=alerts,
        alerts_count=not alerts_whole and len(before.alerts) != len(after.alerts),
        upcoming_whole=upcoming_whole,
        upcoming=upcoming,
        upcoming_count=not upcoming_whole and len(before.upcoming) != len(after.upcoming),
        children=tuple(children),
        sections=tuple(sections),
    )


def _pickup_id(item: AlertItem) -> int:
    return item.pickup_id


def _child_id(item: ChildItem) -> int:
    return item.child_id


def _children(state: BoardState) -> tuple[ChildItem, ...]:
    return tuple(c for s in state.sections for c in (*s.present, *s.departed, *s.absent))


R = TypeVar("R", AlertItem, ChildItem)


def _rows(
    before: tuple[R, ...],
    after: tuple[R, ...],
    prefix: str,
    key: Callable[[R], int],
    removed: list[str],
    whole: bool,
) -> tuple[R, ...]:
    """The rows of `after` to (re)place; ids of rows gone or re-placed go to `removed`.
    A region sent whole needs neither."""
    if whole:
        return ()
    old = {key(r): r for r in before}
    placed = tuple(r for r in after if old.get(key(r)) != r)
    kept = {key(r) for r in after}
    removed.extend(f"{prefix}{k}" for k in old if k not in kept)
    removed.extend(f"{prefix}{key(r)}" for r in placed)
    return placed
