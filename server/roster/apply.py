"""Apply a roster to one organization: compute a `Plan` against the database, then apply it in
the caller's transaction (the caller commits, then publishes `events` and sends `emails`).

The roster is the whole truth for the organization's synced records:
- installations and groups are created or renamed by their external id (never removed: staff,
  displays and history point at them);
- guardians (kind "guardian") are created or updated; a new guardian with an email, or one
  whose email changed, is invited; a guardian absent from the roster loses its links to
  children. Authorized persons (kind "authorized", invited by a parent) are never touched;
- children are created or updated; a child absent from the roster is deactivated
  (`active=False`), never deleted; one present again is reactivated.

Applying the same roster twice changes nothing the second time.

A roster that would deactivate more than a fifth of the active children (most often a partial
export: one installation, a filter left on) is applied only when the caller says it was
confirmed (`confirm_deactivations`); otherwise `apply_roster` raises `DeactivationsUnconfirmed`
and writes nothing. The director's page, the API and the command line all pass through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..accounts.guardians import Email, create_invitation, normalize_email
from ..core.db import Database
from ..core.i18n import _, ngettext
from ..core.models import Child, ChildGuardian, Group, Guardian, Installation
from ..pickups.events import BoardEvent, next_seq
from .model import Roster, RosterChild, RosterInvalid, error_at

KINDS = ("installations", "groups", "guardians", "children")
PROGRESS_EVERY = 50
# More than this share of the active children deactivated at once needs a confirmation.
MASS_DEACTIVATION = Fraction(1, 5)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    action: str  # created | updated | deactivated
    id: str
    name: str
    details: tuple[str, ...] = ()


def _counts() -> dict[str, int]:
    return dict.fromkeys(KINDS, 0)


@dataclass
class Plan:
    created: dict[str, int] = field(default_factory=_counts)
    updated: dict[str, int] = field(default_factory=_counts)
    deactivated: dict[str, int] = field(default_factory=_counts)
    changes: list[Change] = field(default_factory=list)
    # The organization's active children before the roster applies.
    active_children: int = 0

    def add(self, change: Change) -> None:
        getattr(self, change.action)[change.kind] += 1
        self.changes.append(change)

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def children_deactivated(self) -> int:
        return self.deactivated["children"]

    @property
    def needs_confirmation(self) -> bool:
        """True when the roster would deactivate more than a fifth of the active children."""
        deactivating = self.children_deactivated
        return deactivating > 0 and deactivating > MASS_DEACTIVATION * self.active_children

    def summary(self) -> dict[str, Any]:
        return {
            "created": dict(self.created),
            "updated": dict(self.updated),
            "deactivated": dict(self.deactivated),
        }


class DeactivationsUnconfirmed(Exception):
    """The roster would deactivate more than a fifth of the active children and nobody
    confirmed it: nothing was applied. `plan` says what it would have done."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(f"{plan.children_deactivated} of {plan.active_children} children")
        self.plan = plan

    def message(self) -> str:
        """The refusal in plain words, in the current language."""
        return ngettext(
            "This roster would deactivate %(num)d of the %(active)d active children (more than "
            "a fifth): nothing was applied. Check that the file is the whole roster; to apply "
            "it anyway, confirm the deactivations.",
            "This roster would deactivate %(num)d of the %(active)d active children (more than "
            "a fifth): nothing was applied. Check that the file is the whole roster; to apply "
            "it anyway, confirm the deactivations.",
            self.plan.children_deactivated,
        ) % {"num": self.plan.children_deactivated, "active": self.plan.active_children}


@dataclass
class Outcome:
    plan: Plan
    events: list[BoardEvent]
    emails: list[Email]


def _diff(label: str, old: Any, new: Any) -> str:
    def shown(value: Any) -> str:
        return "∅" if value is None or value == "" else str(value)

    return f"{label}: {shown(old)} → {shown(new)}"


@dataclass
class _Snapshot:
    """The organization's synced records as they are, loaded in a few queries."""

    installations: dict[str, Installation]
    groups: dict[tuple[int, str], Group]
    group_by_id: dict[int, Group]
    guardians: dict[str, Guardian]  # every kind: an authorized person's id is taken
    children: dict[str, Child]
    links: dict[int, set[int]]  # child id -> ids of its guardians of kind "guardian"


async def _snapshot(session: AsyncSession, organization_id: int) -> _Snapshot:
    installations = (
        (
            await session.execute(
                select(Installation).where(col(Installation.organization_id) == organization_id)
            )
        )
        .scalars()
        .all()
    )
    groups = (
        (
            await session.execute(
                select(Group)
                .join(Installation, col(Installation.id) == col(Group.installation_id))
                .where(col(Installation.organization_id) == organization_id)
            )
        )
        .scalars()
        .all()
    )
    guardians = (
        (
            await session.execute(
                select(Guardian).where(col(Guardian.organization_id) == organization_id)
            )
        )
        .scalars()
        .all()
    )
    children = (
        (await session.execute(select(Child).where(col(Child.organization_id) == organization_id)))
        .scalars()
        .all()
    )
    links: dict[int, set[int]] = {}
    rows = await session.execute(
        select(col(ChildGuardian.child_id), col(ChildGuardian.guardian_id))
        .join(Guardian, col(Guardian.id) == col(ChildGuardian.guardian_id))
        .where(col(Guardian.organization_id) == organization_id, col(Guardian.kind) == "guardian")
    )
    for child_id, guardian_id in rows.all():
        links.setdefault(child_id, set()).add(guardian_id)
    return _Snapshot(
        installations={i.external_id: i for i in installations},
        groups={(g.installation_id, g.external_id): g for g in groups},
        group_by_id={g.id: g for g in groups if g.id is not None},
        guardians={g.external_id: g for g in guardians},
        children={c.external_id: c for c in children},
        links=links,
    )


def _compute(snap: _Snapshot, roster: Roster) -> Plan:
    plan = Plan(active_children=sum(1 for child in snap.children.values() if child.active))
    installation_ext = {i.id: e for e, i in snap.installations.items()}
    for inst in roster.installations:
        row = snap.installations.get(inst.id)
        if row is None:
            plan.add(Change("installations", "created", inst.id, inst.name))
            for group in inst.groups:
                plan.add(Change("groups", "created", group.id, group.name))
            continue
        details = []
        if row.name != inst.name:
            details.append(_diff(_("name"), row.name, inst.name))
        if inst.latitude is not None and row.latitude != inst.latitude:
            details.append(_diff(_("latitude"), row.latitude, inst.latitude))
        if inst.longitude is not None and row.longitude != inst.longitude:
            details.append(_diff(_("longitude"), row.longitude, inst.longitude))
        if details:
            plan.add(Change("installations", "updated", inst.id, inst.name, tuple(details)))
        assert row.id is not None
        for group in inst.groups:
            existing = snap.groups.get((row.id, group.id))
            if existing is None:
                plan.add(Change("groups", "created", group.id, group.name))
            elif existing.name != group.name:
                plan.add(
                    Change(
                        "groups",
                        "updated",
                        group.id,
                        group.name,
                        (_diff(_("name"), existing.name, group.name),),
                    )
                )

    guardian_ext = {g.id: e for e, g in snap.guardians.items() if g.id is not None}
    listed_guardians = set()
    for guardian in roster.guardians:
        listed_guardians.add(guardian.id)
        name = f"{guardian.first_name} {guardian.last_name}"
        existing_g = snap.guardians.get(guardian.id)
        if existing_g is None:
            plan.add(Change("guardians", "created", guardian.id, name))
            continue
        details = [
            _diff(label, old, new)
            for label, old, new in (
                (_("first name"), existing_g.first_name, guardian.first_name),
                (_("last name"), existing_g.last_name, guardian.last_name),
                (_("email"), existing_g.email, guardian.email),
            )
            if old != new
        ]
        if details:
            plan.add(Change("guardians", "updated", guardian.id, name, tuple(details)))

    listed_children = set()
    for child in roster.children:
        listed_children.add(child.id)
        name = f"{child.first_name} {child.last_name}"
        existing_c = snap.children.get(child.id)
        if existing_c is None:
            plan.add(Change("children", "created", child.id, name))
            continue
        group_row = snap.group_by_id.get(existing_c.group_id)
        old_guardians = sorted(
            guardian_ext.get(g, "?") for g in snap.links.get(existing_c.id or 0, ())
        )
        details = [
            _diff(label, old, new)
            for label, old, new in (
                (_("first name"), existing_c.first_name, child.first_name),
                (_("last name"), existing_c.last_name, child.last_name),
                (
                    _("installation"),
                    installation_ext.get(existing_c.installation_id),
                    child.installation_id,
                ),
                (_("group"), group_row.external_id if group_row else None, child.group_id),
                (_("service agreement"), existing_c.agreement_active, child.agreement_active),
                (_("pickup enabled"), existing_c.pickup_enabled, child.pickup_enabled),
                (_("active"), existing_c.active, True),
                (
                    _("guardians"),
                    ", ".join(old_guardians),
                    ", ".join(sorted(child.guardian_ids)),
                ),
            )
            if old != new
        ]
        if details:
            plan.add(Change("children", "updated", child.id, name, tuple(details)))
    for ext, row_c in snap.children.items():
        if ext not in listed_children and row_c.active:
            plan.add(Change("children", "deactivated", ext, row_c.full_name))
    linked = {g for ids in snap.links.values() for g in ids}
    for ext, row_g in snap.guardians.items():
        if row_g.kind == "guardian" and ext not in listed_guardians and row_g.id in linked:
            plan.add(
                Change(
                    "guardians",
                    "deactivated",
                    ext,
                    row_g.full_name,
                    (_("no longer linked to any child"),),
                )
            )
    return plan


def _check_ids(snap: _Snapshot, roster: Roster) -> None:
    errors = [
        error_at(
            g.source,
            "id",
            _("This id belongs to a person a parent authorized; use another id."),
            g.id,
        )
        for g in roster.guardians
        if g.id in snap.guardians and snap.guardians[g.id].kind != "guardian"
    ]
    if errors:
        raise RosterInvalid(errors)


async def plan_roster(session: AsyncSession, organization_id: int, roster: Roster) -> Plan:
    """What applying `roster` would change; writes nothing."""
    snap = await _snapshot(session, organization_id)
    _check_ids(snap, roster)
    return _compute(snap, roster)


def _update(row: Any, *, keep_none: bool = False, **values: Any) -> None:
    """Set the attributes whose value changed (an unchanged row stays clean: no UPDATE);
    `keep_none`: a value the roster left out (None) keeps the stored one."""
    for attribute, value in values.items():
        if (value is not None or not keep_none) and getattr(row, attribute) != value:
            setattr(row, attribute, value)


async def apply_roster(
    session: AsyncSession,
    organization_id: int,
    roster: Roster,
    *,
    base_url: str,
    now: datetime,
    progress: Progress | None = None,
    confirm_deactivations: bool = False,
) -> Outcome:
    """Apply `roster` inside the caller's transaction. The caller commits, then publishes
    `events` and sends `emails` (invitations). Raises `DeactivationsUnconfirmed`, having
    written nothing, when the roster deactivates more than a fifth of the active children and
    `confirm_deactivations` is false."""
    snap = await _snapshot(session, organization_id)
    _check_ids(snap, roster)
    plan = _compute(snap, roster)
    if plan.needs_confirmation and not confirm_deactivations:
        raise DeactivationsUnconfirmed(plan)
    if plan.empty:
        return Outcome(plan, [], [])

    # Installations and groups.
    installations: dict[str, Installation] = {}
    for inst in roster.installations:
        row = snap.installations.get(inst.id)
        if row is None:
            row = Installation(
                organization_id=organization_id,
                external_id=inst.id,
                name=inst.name,
                latitude=inst.latitude,
                longitude=inst.longitude,
            )
            session.add(row)
        else:
            # A position left out of the roster keeps the one set before.
            _update(row, name=inst.name)
            _update(row, latitude=inst.latitude, longitude=inst.longitude, keep_none=True)
        installations[inst.id] = row
    await session.flush()
    groups: dict[tuple[str, str], Group] = {}
    for inst in roster.installations:
        inst_id = installations[inst.id].id
        assert inst_id is not None
        for group in inst.groups:
            group_row = snap.groups.get((inst_id, group.id))
            if group_row is None:
                group_row = Group(installation_id=inst_id, external_id=group.id, name=group.name)
                session.add(group_row)
            else:
                _update(group_row, name=group.name)
            groups[(inst.id, group.id)] = group_row
    await session.flush()

    # Guardians.
    guardians: dict[str, Guardian] = {}
    to_invite: list[Guardian] = []
    for guardian in roster.guardians:
        g_row = snap.guardians.get(guardian.id)
        if g_row is None:
            g_row = Guardian(
                organization_id=organization_id,
                external_id=guardian.id,
                first_name=guardian.first_name,
                last_name=guardian.last_name,
                email=guardian.email,
            )
            session.add(g_row)
            if guardian.email:
                to_invite.append(g_row)
        else:
            if guardian.email and normalize_email(g_row.email) != normalize_email(guardian.email):
                to_invite.append(g_row)
            _update(
                g_row,
                first_name=guardian.first_name,
                last_name=guardian.last_name,
                email=guardian.email,
            )
        guardians[guardian.id] = g_row
    await session.flush()

    # Children, and the group sections of each board they leave or join.
    touched: dict[int, set[int]] = {}
    touched_children: dict[int, set[int]] = {}

    def touch(child: Child, installation_id: int, group_id: int) -> None:
        touched.setdefault(installation_id, set()).add(group_id)
        if child.id is not None:
            touched_children.setdefault(installation_id, set()).add(child.id)

    total = len(roster.children)
    rows: list[tuple[RosterChild, Child]] = []
    created: list[Child] = []
    for done, child in enumerate(roster.children, start=1):
        inst_row = installations[child.installation_id]
        group_row = groups[(child.installation_id, child.group_id)]
        assert inst_row.id is not None and group_row.id is not None
        c_row = snap.children.get(child.id)
        if c_row is None:
            c_row = Child(
                organization_id=organization_id,
                installation_id=inst_row.id,
                group_id=group_row.id,
                external_id=child.id,
                first_name=child.first_name,
                last_name=child.last_name,
                agreement_active=child.agreement_active,
                pickup_enabled=child.pickup_enabled,
            )
            session.add(c_row)
            created.append(c_row)
        else:
            moved = (c_row.installation_id, c_row.group_id) != (inst_row.id, group_row.id)
            if moved or not c_row.active:
                touch(c_row, c_row.installation_id, c_row.group_id)
                touch(c_row, inst_row.id, group_row.id)
            _update(
                c_row,
                installation_id=inst_row.id,
                group_id=group_row.id,
                first_name=child.first_name,
                last_name=child.last_name,
                agreement_active=child.agreement_active,
                pickup_enabled=child.pickup_enabled,
                active=True,
            )
        rows.append((child, c_row))
        if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
            progress(done, total)
    listed = {c.id for c in roster.children}
    for ext, c_row in snap.children.items():
        if ext not in listed and c_row.active:
            c_row.active = False
            touch(c_row, c_row.installation_id, c_row.group_id)
    await session.flush()
    for c_row in created:  # their ids exist now
        touch(c_row, c_row.installation_id, c_row.group_id)

    # Links between children and guardians (authorized persons' links are left alone).
    remove: list[tuple[int, int]] = []
    add: list[ChildGuardian] = []
    for child, c_row in rows:
        assert c_row.id is not None
        wanted = {guardians[g].id for g in child.guardian_ids}
        current = snap.links.get(c_row.id, set())
        remove += [(c_row.id, g) for g in current - wanted if g is not None]
        add += [ChildGuardian(child_id=c_row.id, guardian_id=g) for g in wanted - current if g]
    kept = {g.id for g in guardians.values()}
    listed_ids = {c.id for _r, c in rows}
    for child_id, current in snap.links.items():
        if child_id not in listed_ids:
            remove += [(child_id, g) for g in current if g not in kept]
    if remove:
        for start in range(0, len(remove), 400):
            await session.execute(
                delete(ChildGuardian).where(
                    tuple_(col(ChildGuardian.child_id), col(ChildGuardian.guardian_id)).in_(
                        remove[start : start + 400]
                    )
                )
            )
    session.add_all(add)
    await session.flush()

    # One board event per touched installation, then the invitations.
    events = []
    for installation_id, group_ids in sorted(touched.items()):
        seq = await next_seq(session, installation_id)
        events.append(
            BoardEvent(
                installation_id,
                seq,
                "attendance",
                groups=tuple(sorted(group_ids)),
                children=tuple(sorted(touched_children.get(installation_id, ()))),
            )
        )
    emails = [
        await create_invitation(session, guardian, base_url=base_url, now=now)
        for guardian in to_invite
    ]
    return Outcome(plan, events, emails)


async def apply_and_commit(
    db: Database,
    organization_id: int,
    roster: Roster,
    *,
    base_url: str,
    now: datetime,
    confirm_deactivations: bool = False,
) -> Outcome:
    """Apply `roster` in a transaction of its own and commit it: all or nothing (RosterInvalid
    and DeactivationsUnconfirmed leave the organization as it was). The caller then publishes
    `events` and sends `emails` (the director's upload and the API's PUT /roster)."""
    async with db.session() as session:
        outcome = await apply_roster(
            session,
            organization_id,
            roster,
            base_url=base_url,
            now=now,
            confirm_deactivations=confirm_deactivations,
        )
        await session.commit()
    return outcome
