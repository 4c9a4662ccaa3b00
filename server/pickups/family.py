"""The read model of the parent page: a family's children and where each one stands today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..attendance import today_attendance
from ..models import Child, ChildGuardian, Group, Guardian, Installation, Pickup, PickupStatus
from . import rules
from .rules import Refusal, RuleError
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

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @property
    def can_announce(self) -> bool:
        return self.refusal is None

    @property
    def initials(self) -> str:
        return (self.first_name[:1] + self.last_name[:1]).upper()


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
    return list(
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
                .order_by(col(Child.first_name))
            )
        )
        .scalars()
        .all()
    )


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
        if pickup is not None and pickup.status in rules.LIVE:
            state = pickup.status
        elif pickup is not None and pickup.status == PickupStatus.DEPARTED:
            state = "departed"
        elif attendance is None:
            state = "absent"
        elif attendance.checked_out_at is not None:
            state = "departed"
        else:
            state = "present"
        refusal: Refusal | None = None
        try:
            rules.check_can_announce(
                await announce_facts(session, child, guardian, installation, now)
            )
        except RuleError as error:
            refusal = error.refusal
        live = pickup is not None and pickup.status in rules.LIVE
        cards.append(
            ChildCard(
                child_id=child.id,
                first_name=child.first_name,
                last_name=child.last_name,
                installation_id=child.installation_id,
                installation_name=installation.display_name or installation.name,
                timezone=installation.timezone,
                group_name=group.name,
                has_photo=child.photo is not None,
                photo_pending=child.photo_pending,
                state=state,
                pickup_id=pickup.id if live and pickup is not None else None,
                pickup_mode=pickup.mode if live and pickup is not None else None,
                eta=pickup.eta if live and pickup is not None else None,
                gps_minutes=pickup.gps_minutes if live and pickup is not None else None,
                refusal=refusal,
            )
        )
    assert guardian.id is not None
    return FamilyState(
        guardian_id=guardian.id,
        guardian_name=guardian.full_name,
        guardian_has_photo=guardian.photo is not None,
        guardian_photo_pending=guardian.photo_pending,
        now=now,
        children=tuple(cards),
    )
