"""Erasing a family (s. 28, and s. 23 when its period is over): names, emails, photos,
positions, sessions, links, consents and requests go; the rows the release log still needs
(children, adults, pickups, its lines) stay, anonymous — an id and no name.

A family's boards are told (an "attendance" event per installation): an erased child leaves
every list at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import (
    AccountKind,
    ActorKind,
    Child,
    ChildGuardian,
    Consent,
    DataExport,
    Guardian,
    OneTimeLink,
    OutboxMessage,
    Pickup,
    PickupEvent,
    PushSubscription,
    RectificationRequest,
    RollEvent,
    SignInSession,
    TripPosition,
)
from ..pickups import rules
from ..pickups.events import BoardEvent, next_seq
from .family import Family

ERASED = "erased"  # Guardian.account_state once erased


@dataclass
class Erasure:
    adults: int = 0
    children: int = 0
    release_log_lines: int = 0
    # Photo files no row refers to any more: delete them after the commit.
    stale_files: list[str] = field(default_factory=list)
    events: list[BoardEvent] = field(default_factory=list)


class LivePickup(Exception):
    """A child of the family is on its way out right now: erase once the pickup is over."""


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


async def erase_family(session: AsyncSession, family: Family, now: datetime) -> Erasure:
    """Erase `family` (its parents, children and the authorized adults no other household
    counts on) in the caller's transaction. Raises LivePickup while a pickup of it is live."""
    return await erase_people(session, family.adults, family.children, now, shared=family.shared)


async def erase_people(
    session: AsyncSession,
    people: list[Guardian],
    kids: list[Child],
    now: datetime,
    *,
    shared: list[Guardian] | None = None,
) -> Erasure:
    """Erase these adults and children (`shared`: adults only unlinked from the children).
    Raises LivePickup while a pickup of theirs is live."""
    adults = [g.id for g in people if g.id is not None]
    children = [c.id for c in kids if c.id is not None]
    live = await session.scalar(
        select(func.count())
        .select_from(Pickup)
        .where(
            or_(col(Pickup.child_id).in_(children), col(Pickup.guardian_id).in_(adults)),
            col(Pickup.status).in_(rules.LIVE),
        )
    )
    if live:
        raise LivePickup()
    done = Erasure(adults=len(adults), children=len(children))
    rows: list[Child | Guardian] = [*people, *kids]
    done.stale_files = [name for r in rows for name in (r.photo, r.pending_photo) if name]
    emails = {g.email.lower() for g in people if g.email}

    their_pickups = select(col(Pickup.id)).where(
        or_(col(Pickup.child_id).in_(children), col(Pickup.guardian_id).in_(adults))
    )
    await session.execute(
        delete(TripPosition).where(col(TripPosition.pickup_id).in_(their_pickups))
    )
    result = await session.execute(
        update(PickupEvent)
        .where(
            col(PickupEvent.actor_kind) == ActorKind.GUARDIAN,
            col(PickupEvent.actor_id).in_(adults),
        )
        .values(actor_name="", device="")
    )
    done.release_log_lines = _count(result)
    # Who a child was handed to (Départ's confirmation) is a name too.
    await session.execute(
        update(PickupEvent)
        .where(col(PickupEvent.handed_to_id).in_(adults))
        .values(handed_to_name="", handed_to_id=None)
    )
    # The same for an emergency's releases (the roll's timeline).
    await session.execute(
        update(RollEvent)
        .where(col(RollEvent.handed_to_id).in_(adults))
        .values(handed_to_name="", handed_to_id=None)
    )
    await session.execute(delete(Consent).where(col(Consent.guardian_id).in_(adults)))
    await session.execute(
        delete(PushSubscription).where(col(PushSubscription.guardian_id).in_(adults))
    )
    await session.execute(
        delete(RectificationRequest).where(
            or_(
                col(RectificationRequest.guardian_id).in_(adults),
                col(RectificationRequest.child_id).in_(children),
            )
        )
    )
    await session.execute(
        update(DataExport).where(col(DataExport.guardian_id).in_(adults)).values(subject_name="")
    )
    await session.execute(
        update(DataExport)
        .where(
            col(DataExport.requested_by_kind) == ActorKind.GUARDIAN,
            col(DataExport.requested_by_id).in_(adults),
        )
        .values(requested_by_name="")
    )
    parent_account = and_(
        col(SignInSession.kind) == AccountKind.PARENT, col(SignInSession.account_id).in_(adults)
    )
    await session.execute(delete(SignInSession).where(parent_account))
    await session.execute(
        delete(OneTimeLink).where(
            col(OneTimeLink.kind) == AccountKind.PARENT, col(OneTimeLink.account_id).in_(adults)
        )
    )
    if emails:
        await session.execute(
            delete(OutboxMessage).where(func.lower(col(OutboxMessage.to)).in_(emails))
        )
    unlinked = [g.id for g in shared or () if g.id is not None]
    await session.execute(
        delete(ChildGuardian).where(
            or_(
                col(ChildGuardian.guardian_id).in_(adults),
                and_(
                    col(ChildGuardian.guardian_id).in_(unlinked),
                    col(ChildGuardian.child_id).in_(children),
                ),
            )
        )
    )
    await session.execute(
        update(Guardian).where(col(Guardian.invited_by_id).in_(adults)).values(invited_by_id=None)
    )
    for adult in people:
        adult.first_name = adult.last_name = adult.email = ""
        adult.external_id = f"erased-{adult.id}"
        adult.password_hash = adult.photo = adult.pending_photo = adult.invited_email = None
        adult.invited_by_id = None
        adult.account_state = ERASED
        adult.erased_at = now
        session.add(adult)
    installations: dict[int, set[int]] = {}
    for child in kids:
        assert child.id is not None
        if child.active:
            installations.setdefault(child.installation_id, set()).add(child.group_id)
        child.first_name = child.last_name = ""
        child.external_id = f"erased-{child.id}"
        child.photo = child.pending_photo = None
        child.active = child.pickup_enabled = False
        child.erased_at = now
        session.add(child)
    await session.flush()
    for installation_id, groups in sorted(installations.items()):
        seq = await next_seq(session, installation_id)
        done.events.append(
            BoardEvent(
                installation_id,
                seq,
                "attendance",
                groups=tuple(sorted(groups)),
                children=tuple(children),
            )
        )
    return done
