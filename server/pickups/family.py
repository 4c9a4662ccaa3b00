"""The read model of the parent page: a family's children and where each one stands today.

Loaded from the database; a worker holding a family's page follows a change of one of its
children with `apply_family_event` (the rows the event carries), or reloads on any doubt."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.collation import sort_by_name
from ..core.models import Child, ChildGuardian, Group, Guardian, Installation, Pickup, PickupStatus
from . import rules
from .attendance import today_attendance
from .events import BoardEvent, ChildRow, PickupRow
from .rules import AnnounceFacts, Refusal, RuleError
from .service import announce_facts


@dataclass(frozen=True)
class FamilyView:
    """One parent page variant: a guardian's own family, in one language."""

    guardian_id: int
    locale: str


@dataclass(frozen=True)
class ChildCard:
    child_id: int
    first_name: str
    last_name: str
    installation_id: int
    installation_name: str  # the name parents know (display name)
    timezone: str
    group_name: str
    has_photo: bool
    photo_pending: bool
    # absent | present | departed, or the live pickup's status
    state: str
    pickup_id: int | None
    pickup_mode: str | None
    eta: datetime | None
    gps_minutes: int | None
    refusal: Refusal | None  # why announcing is not possible now (None: it is)
    # What a change is worked out from, without the database: the installation's local day,
    # the day's attendance alone (absent | present | departed), the day's latest pickup and
    # its status, and what the rules look at to accept an announcement.
    day: date | None = None
    attendance: str = "absent"
    latest_pickup: int | None = None
    latest_status: str | None = None
    facts: AnnounceFacts | None = None
    # Staff removed the day's latest announcement: why (the parent is told in plain words).
    dismissed_reason: str | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def can_announce(self) -> bool:
        return self.refusal is None

    @property
    def initials(self) -> str:
        return (self.first_name[:1] + self.last_name[:1]).upper()

    @property
    def dismissed(self) -> bool:
        return self.latest_status == PickupStatus.DISMISSED


@dataclass(frozen=True)
class FamilyState:
    guardian_id: int
    guardian_name: str
    guardian_has_photo: bool
    guardian_photo_pending: bool
    now: datetime
    children: tuple[ChildCard, ...]

    @property
    def installation_ids(self) -> frozenset[int]:
        return frozenset(c.installation_id for c in self.children)

    @property
    def announceable(self) -> tuple[ChildCard, ...]:
        return tuple(c for c in self.children if c.can_announce)

    @property
    def live(self) -> tuple[ChildCard, ...]:
        return tuple(c for c in self.children if c.pickup_id is not None)


async def family_children(session: AsyncSession, guardian_id: int) -> list[Child]:
    found = (
        (
            await session.execute(
                select(Child)
                .join(ChildGuardian, col(ChildGuardian.child_id) == col(Child.id))
                # Children not enabled for pickup alerts are not on the parent side at all.
                .where(
                    col(ChildGuardian.guardian_id) == guardian_id,
                    col(Child.active).is_(True),
                    col(Child.pickup_enabled).is_(True),
                )
                .order_by(col(Child.id))
            )
        )
        .scalars()
        .all()
    )
    return sort_by_name(found, key=lambda child: f"{child.first_name}\t{child.last_name}")


async def load_family(session: AsyncSession, guardian_id: int, now: datetime) -> FamilyState:
    guardian = await session.get(Guardian, guardian_id)
    assert guardian is not None
    cards: list[ChildCard] = []
    for child in await family_children(session, guardian_id):
        assert child.id is not None
        installation = await session.get(Installation, child.installation_id)
        group = await session.get(Group, child.group_id)
        assert installation is not None and group is not None
        day = rules.local_day(now, installation.timezone)
        pickup = (
            await session.execute(
                select(Pickup)
                .where(col(Pickup.child_id) == child.id, col(Pickup.day) == day)
                .order_by(col(Pickup.id).desc())
                .limit(1)
            )
        ).scalar_one_or_none()
        attendance = await today_attendance(session, child, installation, now)
        if attendance is None:
            present = "absent"
        elif attendance.checked_out_at is not None:
            present = "departed"
        else:
            present = "present"
        card = ChildCard(
            child_id=child.id,
            first_name=child.first_name,
            last_name=child.last_name,
            installation_id=child.installation_id,
            installation_name=installation.display_name or installation.name,
            timezone=installation.timezone,
            group_name=group.name,
            has_photo=child.photo is not None,
            photo_pending=child.photo_pending,
            state=present,
            pickup_id=pickup.id if pickup is not None else None,
            pickup_mode=pickup.mode if pickup is not None else None,
            eta=pickup.eta if pickup is not None else None,
            gps_minutes=pickup.gps_minutes if pickup is not None else None,
            refusal=None,
            day=day,
            attendance=present,
            latest_pickup=pickup.id if pickup is not None else None,
            latest_status=pickup.status if pickup is not None else None,
            dismissed_reason=pickup.dismiss_reason if pickup is not None else None,
            facts=await announce_facts(session, child, guardian, installation, now),
        )
        cards.append(_settled(card))
    assert guardian.id is not None
    return FamilyState(
        guardian_id=guardian.id,
        guardian_name=guardian.full_name,
        guardian_has_photo=guardian.photo is not None,
        guardian_photo_pending=guardian.photo_pending,
        now=now,
        children=tuple(cards),
    )


def _settled(card: ChildCard) -> ChildCard:
    """The card's state, its live pickup and why it cannot be announced, worked out from
    the day's attendance, its latest pickup and the facts the rules look at."""
    live = card.latest_status in rules.LIVE
    if live:
        state = str(card.latest_status)
    elif card.latest_status == PickupStatus.DEPARTED:
        state = "departed"
    else:
        state = card.attendance
    refusal: Refusal | None = None
    if card.facts is not None:
        try:
            rules.check_can_announce(card.facts)
        except RuleError as error:
            refusal = error.refusal
    return replace(
        card,
        state=state,
        pickup_id=card.pickup_id if live else None,
        pickup_mode=card.pickup_mode if live else None,
        eta=card.eta if live else None,
        gps_minutes=card.gps_minutes if live else None,
        refusal=refusal,
    )


def apply_family_event(state: FamilyState, event: BoardEvent, now: datetime) -> FamilyState | None:
    """The page after `event`, from the rows it carries, as of `now`. None means "reload
    from the database": the day turned, a kind of change it cannot follow (a move renames
    the group shown, a photo decision…), or a row it cannot place (another day, an older
    pickup)."""
    if not same_day(state, now):
        return None
    cards = list(state.children)
    for at, card in enumerate(cards):
        pickup = event.pickup if event.pickup and event.pickup.child_id == card.child_id else None
        child = event.child if event.child and event.child.id == card.child_id else None
        if pickup is None and child is None:
            if card.child_id in event.children:
                return None  # about this child, without its rows
            continue
        if event.kind not in ("pickup", "attendance"):
            return None
        if pickup is not None:
            patched = _with_pickup(card, pickup)
            if patched is None:
                return None
            card = patched
        if child is not None:
            card = _with_attendance(card, child)
        cards[at] = _settled(card)
    return replace(state, now=now, children=tuple(cards))


def same_day(state: FamilyState, now: datetime) -> bool:
    """The page is still about today for every child (else it starts afresh: reload)."""
    return all(
        c.facts is not None and c.day == rules.local_day(now, c.timezone) for c in state.children
    )


def _with_pickup(card: ChildCard, row: PickupRow) -> ChildCard | None:
    if row.day != card.day or (card.latest_pickup is not None and row.id < card.latest_pickup):
        return None
    assert card.facts is not None
    return replace(
        card,
        latest_pickup=row.id,
        latest_status=row.status,
        dismissed_reason=row.reason,
        pickup_id=row.id,
        pickup_mode=row.mode,
        eta=row.eta,
        gps_minutes=row.gps_minutes,
        # One live pickup per child at most (a unique index): this one says whether any is.
        facts=replace(card.facts, has_live_pickup=row.status in rules.LIVE),
    )


def _with_attendance(card: ChildCard, row: ChildRow) -> ChildCard:
    assert card.facts is not None
    present = row.present and not row.departed
    return replace(
        card,
        attendance="departed" if row.departed else "present" if present else "absent",
        facts=replace(card.facts, present=present, departed_today=row.departed),
    )
