"""Reads of emergencies: the one under way at an installation, its roll as boards show it,
the summary the director's overview shows, the list of the year's emergencies and drills."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.collation import person_name, sort_by_name
from ..core.models import (
    Child,
    ChildGuardian,
    Emergency,
    Group,
    Installation,
    RollEvent,
    RollLine,
)
from . import rules
from .rules import Counts


@dataclass(frozen=True)
class MissingChild:
    child_id: int
    name: str
    group: str


@dataclass(frozen=True)
class RollSummary:
    """An emergency under way at one installation, as the director's overview shows it."""

    emergency_id: int
    kind: str  # EmergencyKind: evacuation | closure
    drill: bool
    started_at: datetime
    accounted: int
    missing: int
    missing_children: tuple[MissingChild, ...]  # not yet accounted for, by group then name

    @property
    def total(self) -> int:
        return self.accounted + self.missing


@dataclass(frozen=True)
class RollChild:
    child_id: int
    first_name: str
    last_name: str
    status: str  # RollStatus
    changed_at: datetime | None  # when its status last changed (a check: the undo window)

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class RollGroup:
    group_id: int
    name: str
    children: tuple[RollChild, ...]

    @property
    def counts(self) -> Counts:
        return rules.counts(c.status for c in self.children)


@dataclass(frozen=True)
class AbsentChild:
    name: str
    group: str


@dataclass(frozen=True)
class Roll:
    """The roll of the emergency under way at an installation, as every board shows it."""

    emergency_id: int
    installation_id: int
    kind: str
    drill: bool
    message: str
    assembly_point: str
    started_at: datetime
    groups: tuple[RollGroup, ...]
    absent: tuple[AbsentChild, ...]  # absent that day: listed apart, nobody searches for them

    @property
    def counts(self) -> Counts:
        return rules.counts(c.status for g in self.groups for c in g.children)


async def active_emergency(session: AsyncSession, installation_id: int) -> Emergency | None:
    """The emergency under way at the installation, if any."""
    return (
        await session.execute(
            select(Emergency).where(
                col(Emergency.installation_id) == installation_id,
                col(Emergency.ended_at).is_(None),
            )
        )
    ).scalar_one_or_none()


async def active_emergencies(
    session: AsyncSession, installation_ids: Iterable[int]
) -> list[Emergency]:
    ids = list(installation_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(Emergency)
        .where(col(Emergency.installation_id).in_(ids), col(Emergency.ended_at).is_(None))
        .order_by(col(Emergency.started_at), col(Emergency.id))
    )
    return list(rows.scalars())


async def _lines(session: AsyncSession, emergency_id: int) -> list[tuple[RollLine, Child, str]]:
    rows = await session.execute(
        select(RollLine, Child, col(Group.name))
        .join(Child, col(Child.id) == col(RollLine.child_id))
        .join(Group, col(Group.id) == col(RollLine.group_id))
        .where(col(RollLine.emergency_id) == emergency_id)
        .order_by(col(RollLine.id))
    )
    found = [(line, child, str(group)) for line, child, group in rows]
    # People's order (family name, then given name), by group: the language's collation.
    by_name = sort_by_name(found, lambda row: person_name(row[1].first_name, row[1].last_name))
    return sort_by_name(by_name, lambda row: row[2])


async def load_roll(session: AsyncSession, installation_id: int) -> Roll | None:
    """The roll of the emergency under way at the installation (None: there is none)."""
    emergency = await active_emergency(session, installation_id)
    if emergency is None:
        return None
    return await roll_of(session, emergency)


async def roll_of(session: AsyncSession, emergency: Emergency) -> Roll:
    assert emergency.id is not None
    groups: dict[int, tuple[str, list[RollChild]]] = {}
    on_roll: set[int] = set()
    for line, child, group_name in await _lines(session, emergency.id):
        on_roll.add(line.child_id)
        groups.setdefault(line.group_id, (group_name, []))[1].append(
            RollChild(
                line.child_id, child.first_name, child.last_name, line.status, line.changed_at
            )
        )
    absent_rows = await session.execute(
        select(Child, col(Group.name))
        .join(Group, col(Group.id) == col(Child.group_id))
        .where(
            col(Child.installation_id) == emergency.installation_id,
            col(Child.active).is_(True),
            col(Child.erased_at).is_(None),
        )
        .order_by(col(Child.id))
    )
    away = [(child, str(group)) for child, group in absent_rows if child.id not in on_roll]
    away = sort_by_name(away, lambda row: person_name(row[0].first_name, row[0].last_name))
    absent = tuple(
        AbsentChild(child.full_name, group)
        for child, group in sort_by_name(away, lambda row: row[1])
    )
    return Roll(
        emergency_id=emergency.id,
        installation_id=emergency.installation_id,
        kind=emergency.kind,
        drill=emergency.drill,
        message=emergency.message,
        assembly_point=emergency.assembly_point,
        started_at=emergency.started_at,
        groups=tuple(
            RollGroup(group_id, name, tuple(children))
            for group_id, (name, children) in groups.items()
        ),
        absent=absent,
    )


async def roll_summary(session: AsyncSession, installation_id: int) -> RollSummary | None:
    """The emergency under way at the installation, counted: accounted for, missing, and who
    is missing (by group, then name). None when there is none. One read of the roll."""
    emergency = await active_emergency(session, installation_id)
    if emergency is None:
        return None
    assert emergency.id is not None
    lines = await _lines(session, emergency.id)
    counted = rules.counts(line.status for line, _child, _group in lines)
    missing = tuple(
        MissingChild(child.id or 0, child.full_name, group)
        for line, child, group in lines
        if line.status not in rules.ACCOUNTED
    )
    return RollSummary(
        emergency_id=emergency.id,
        kind=emergency.kind,
        drill=emergency.drill,
        started_at=emergency.started_at,
        accounted=counted.accounted,
        missing=counted.missing,
        missing_children=missing,
    )


async def emergency_in(
    session: AsyncSession, organization_id: int, emergency_id: int
) -> Emergency | None:
    """An emergency of this organization (another organization's id reads as unknown)."""
    emergency = await session.get(Emergency, emergency_id)
    if emergency is None or emergency.organization_id != organization_id:
        return None
    return emergency


async def roll_line(session: AsyncSession, emergency_id: int, child_id: int) -> RollLine | None:
    return (
        await session.execute(
            select(RollLine).where(
                col(RollLine.emergency_id) == emergency_id, col(RollLine.child_id) == child_id
            )
        )
    ).scalar_one_or_none()


async def last_check(session: AsyncSession, emergency_id: int, child_id: int) -> RollEvent | None:
    """The roll's latest line for this child (what an undo takes back)."""
    return (
        await session.execute(
            select(RollEvent)
            .where(col(RollEvent.emergency_id) == emergency_id, col(RollEvent.child_id) == child_id)
            .order_by(col(RollEvent.id).desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def timeline(session: AsyncSession, emergency_id: int) -> list[tuple[RollEvent, str]]:
    """Every check, undo and release of a roll, in order, with the child's name."""
    rows = await session.execute(
        select(RollEvent, Child)
        .join(Child, col(Child.id) == col(RollEvent.child_id))
        .where(col(RollEvent.emergency_id) == emergency_id)
        .order_by(col(RollEvent.at), col(RollEvent.id))
    )
    return [(event, child.full_name) for event, child in rows]


async def roll_children(session: AsyncSession, emergency_id: int) -> list[int]:
    rows = await session.execute(
        select(col(RollLine.child_id)).where(col(RollLine.emergency_id) == emergency_id)
    )
    return list(rows.scalars())


async def emergencies(
    session: AsyncSession, organization_id: int, since: datetime
) -> list[tuple[Emergency, str]]:
    """The organization's emergencies started since `since`, newest first, with the
    installation's name."""
    rows = await session.execute(
        select(Emergency, col(Installation.name))
        .join(Installation, col(Installation.id) == col(Emergency.installation_id))
        .where(
            col(Emergency.organization_id) == organization_id,
            col(Emergency.started_at) >= since,
        )
        .order_by(col(Emergency.started_at).desc(), col(Emergency.id).desc())
    )
    return [(emergency, str(name)) for emergency, name in rows]


async def families_of_children(
    session: AsyncSession, child_ids: Iterable[int]
) -> dict[int, set[int]]:
    """guardian id → the children (among these) they are an adult of."""
    ids = list(child_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(col(ChildGuardian.guardian_id), col(ChildGuardian.child_id)).where(
            col(ChildGuardian.child_id).in_(ids)
        )
    )
    found: dict[int, set[int]] = {}
    for guardian_id, child_id in rows:
        found.setdefault(guardian_id, set()).add(child_id)
    return found


async def time_to_all_accounted(session: AsyncSession, emergency: Emergency) -> timedelta | None:
    """How long it took until every child of the roll was accounted for (None: not yet)."""
    assert emergency.id is not None
    children = await roll_children(session, emergency.id)
    steps = [
        rules.Step(event.child_id, event.to_status, event.at)
        for event, _name in await timeline(session, emergency.id)
    ]
    return rules.time_to_all_accounted(emergency.started_at, children, steps)


@dataclass(frozen=True)
class FamilyNotice:
    """What a family's page shows during a real emergency at one of its installations."""

    emergency_id: int
    installation: str
    kind: str
    message: str
    assembly_point: str
    started_at: datetime


async def family_notices(session: AsyncSession, child_ids: Iterable[int]) -> list[FamilyNotice]:
    """The real emergencies under way where these children are (drills tell nobody)."""
    ids = list(child_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(Emergency, Installation)
        .join(Installation, col(Installation.id) == col(Emergency.installation_id))
        .where(
            col(Emergency.ended_at).is_(None),
            col(Emergency.drill).is_(False),
            col(Emergency.installation_id).in_(
                select(col(Child.installation_id)).where(col(Child.id).in_(ids))
            ),
        )
        .order_by(col(Emergency.started_at))
    )
    return [
        FamilyNotice(
            emergency.id or 0,
            installation.display_name or installation.name,
            emergency.kind,
            emergency.message,
            emergency.assembly_point,
            emergency.started_at,
        )
        for emergency, installation in rows
    ]
