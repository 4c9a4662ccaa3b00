"""The read model of a presence board: what one installation's board shows right now.

Loaded once per event for the whole installation, then narrowed per view (group filter)
in memory, so several views of the same event cost one query, not one each.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..models import Attendance, Child, Group, Guardian, Installation, Pickup, PickupStatus
from . import rules


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

    @property
    def next_status(self) -> PickupStatus | None:
        return rules.staff_next(self.status)


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
    groups: tuple[tuple[int, str], ...]  # every group of the installation, by name
    alerts: tuple[AlertItem, ...]  # on the board, ordered by arrival
    upcoming: tuple[AlertItem, ...]  # scheduled or tracking, ordered by arrival
    # Only the sections that were loaded (all of them for a page or snapshot).
    sections: tuple[GroupSection, ...] = field(default=())

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


def _arrival_key(item: AlertItem) -> tuple[datetime, int]:
    moment = item.eta or item.announced_at or item.announce_at
    return (moment or datetime.max.replace(tzinfo=UTC), item.pickup_id)


# The board's three reads, built once: building a statement costs about as much as running
# it, and they run for every change of every installation.
_GROUPS = (
    select(col(Group.id), col(Group.name))
    .where(col(Group.installation_id) == bindparam("installation_id"))
    .order_by(col(Group.name))
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
    .order_by(col(Child.first_name), col(Child.last_name))
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
    groups = (await session.execute(_GROUPS, {"installation_id": installation.id})).all()
    group_names: dict[int, str] = {int(gid): name for gid, name in groups if gid is not None}

    rows = (
        await session.execute(_LIVE_PICKUPS, {"installation_id": installation.id, "day": day})
    ).all()
    alerts: list[AlertItem] = []
    upcoming: list[AlertItem] = []
    for row in rows:
        (pickup_id, status, mode, eta, announce_at, gps_minutes, announced_at) = row[:7]
        child_id, child_first, child_last, group_id, guardian_first, guardian_last = row[7:]
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
            kids = by_group[gid]
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
        groups=tuple(group_names.items()),
        alerts=tuple(sorted(alerts, key=_arrival_key)),
        upcoming=tuple(sorted(upcoming, key=_arrival_key)),
        sections=tuple(sections),
    )
