"""Retention and destruction (s. 23): what is past its organization's period is deleted, or
anonymized when the release log still needs the row. The scheduler runs `purge` in the
background; `relais purge [--dry-run]` runs it by hand and prints the counts per kind.

Tables without an organization (emails in the outbox, sign-in sessions, one-time links) keep
their rows for the shortest period any organization chose: the most protective one.
GPS positions are not a setting: a trip keeps them for `trips.MAX_TRIP` at most, even when
the phone went silent without saying it stopped."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.db import Database
from ..core.models import (
    Attendance,
    Child,
    ChildGuardian,
    Consent,
    DataExport,
    Guardian,
    OneTimeLink,
    Organization,
    OutboxMessage,
    Pickup,
    PickupEvent,
    PrivacyIncident,
    PrivacySettings,
    RectificationRequest,
    SignInSession,
    TripPosition,
)
from ..photos.service import remove_files
from ..pickups.trips import overdue_positions
from . import policy
from .erase import LivePickup, erase_people

# The kinds `purge` reports, in the order `relais purge` prints them.
REPORTED = (
    "positions",
    "pickups",
    "release_log_lines",
    "attendance",
    "consents",
    "exports",
    "requests",
    "outbox",
    "links",
    "sessions",
    "incidents",
    "departed_children",
    "departed_adults",
)


# Rows deleted a period after one of their instants: (kind, model, the instant, the period's
# column in PrivacySettings).
DATED: tuple[tuple[str, Any, Any, str], ...] = (
    ("consents", Consent, col(Consent.withdrawn_at), "consents_days"),
    ("exports", DataExport, col(DataExport.at), "exports_days"),
    ("requests", RectificationRequest, col(RectificationRequest.resolved_at), "requests_days"),
)


@dataclass
class PurgeReport:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REPORTED, 0))
    # Photo files no row refers to any more: delete them after the commit.
    stale_files: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def _apply(
    session: AsyncSession, model: Any, where: ColumnElement[bool], dry_run: bool
) -> int:
    """Delete the rows of `model` matching `where`; the count (only counted in a dry run)."""
    count = int(await session.scalar(select(func.count()).select_from(model).where(where)) or 0)
    if count and not dry_run:
        await session.execute(delete(model).where(where))
    return count


async def _all_settings(session: AsyncSession) -> list[PrivacySettings]:
    ids = list(await session.scalars(select(col(Organization.id)).order_by(col(Organization.id))))
    return [await policy.settings_of(session, org_id) for org_id in ids if org_id is not None]


def _shortest(settings: Sequence[PrivacySettings], column: str) -> timedelta | None:
    values = [int(getattr(s, column)) for s in settings]
    return timedelta(days=min(values)) if values else None


async def _mark_departures(session: AsyncSession, organization_id: int, now: datetime) -> None:
    """When a family is first seen gone (a child made inactive by the roster, a parent with no
    active child left, an authorized adult whose access was revoked), and back again."""
    in_org = col(Child.organization_id) == organization_id
    not_erased = col(Child.erased_at).is_(None)
    await session.execute(
        update(Child)
        .where(in_org, not_erased, col(Child.active).is_(False), col(Child.left_at).is_(None))
        .values(left_at=now)
    )
    await session.execute(
        update(Child)
        .where(in_org, col(Child.active).is_(True), col(Child.left_at).is_not(None))
        .values(left_at=None)
    )
    has_active_child = exists(
        select(col(ChildGuardian.child_id))
        .join(Child, col(Child.id) == col(ChildGuardian.child_id))
        .where(col(ChildGuardian.guardian_id) == col(Guardian.id), col(Child.active).is_(True))
    )
    gone = or_(col(Guardian.account_state) == "revoked", ~has_active_child)
    mine = and_(col(Guardian.organization_id) == organization_id, col(Guardian.erased_at).is_(None))
    await session.execute(
        update(Guardian)
        .where(mine, gone, col(Guardian.left_at).is_(None))
        .values(left_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Guardian)
        .where(mine, ~gone, col(Guardian.left_at).is_not(None))
        .values(left_at=None)
        .execution_options(synchronize_session=False)
    )


async def _departed(
    session: AsyncSession,
    organization_id: int,
    cutoff: datetime,
    dry_run: bool,
    report: PurgeReport,
) -> None:
    """Anonymize the families that left before `cutoff`."""
    adults = list(
        await session.scalars(
            select(Guardian).where(
                col(Guardian.organization_id) == organization_id,
                col(Guardian.erased_at).is_(None),
                col(Guardian.left_at) <= cutoff,
            )
        )
    )
    children = list(
        await session.scalars(
            select(Child).where(
                col(Child.organization_id) == organization_id,
                col(Child.erased_at).is_(None),
                col(Child.left_at) <= cutoff,
            )
        )
    )
    report.counts["departed_adults"] += len(adults)
    report.counts["departed_children"] += len(children)
    if dry_run or not (adults or children):
        return
    try:
        erased = await erase_people(session, adults, children, cutoff)
    except LivePickup:  # an odd one out is still on its way: the next run takes them
        report.counts["departed_adults"] -= len(adults)
        report.counts["departed_children"] -= len(children)
        return
    report.stale_files += erased.stale_files


async def purge(session: AsyncSession, now: datetime, *, dry_run: bool = False) -> PurgeReport:
    """Delete or anonymize, in the caller's transaction, everything past its period; the
    counts per kind (a dry run only counts)."""
    report = PurgeReport()
    counts = report.counts
    every = await _all_settings(session)
    counts["positions"] += await _apply(session, TripPosition, overdue_positions(now), dry_run)
    for settings in every:
        org = settings.organization_id
        kept = timedelta(days=settings.release_log_days)
        last_day = (now - kept).date()
        old = select(col(Pickup.id)).where(
            col(Pickup.organization_id) == org, col(Pickup.day) < last_day
        )
        counts["positions"] += await _apply(
            session, TripPosition, col(TripPosition.pickup_id).in_(old), dry_run
        )
        counts["release_log_lines"] += await _apply(
            session, PickupEvent, col(PickupEvent.pickup_id).in_(old), dry_run
        )
        counts["pickups"] += await _apply(
            session,
            Pickup,
            and_(col(Pickup.organization_id) == org, col(Pickup.day) < last_day),
            dry_run,
        )
        their_children = select(col(Child.id)).where(col(Child.organization_id) == org)
        counts["attendance"] += await _apply(
            session,
            Attendance,
            and_(col(Attendance.child_id).in_(their_children), col(Attendance.day) < last_day),
            dry_run,
        )
        for kind, model, moment, column in DATED:
            since = now - timedelta(days=int(getattr(settings, column)))
            mine = and_(col(model.organization_id) == org, moment < since)
            counts[kind] += await _apply(session, model, mine, dry_run)
        counts["incidents"] += await _apply(
            session,
            PrivacyIncident,
            and_(
                col(PrivacyIncident.organization_id) == org,
                col(PrivacyIncident.discovered_on)
                < (now - timedelta(days=365 * policy.INCIDENT_YEARS + 2)).date(),
            ),
            dry_run,
        )
        if not dry_run:
            await _mark_departures(session, org, now)
        await _departed(session, org, now - timedelta(days=settings.departed_days), dry_run, report)
    messages = _shortest(every, "messages_days")
    if messages is not None:
        counts["outbox"] += await _apply(
            session, OutboxMessage, col(OutboxMessage.created_at) < now - messages, dry_run
        )
        counts["links"] += await _apply(
            session, OneTimeLink, col(OneTimeLink.expires_at) < now - messages, dry_run
        )
    sessions = _shortest(every, "sessions_days")
    if sessions is not None:
        counts["sessions"] += await _apply(
            session, SignInSession, col(SignInSession.expires_at) < now - sessions, dry_run
        )
    return report


async def run(db: Database, photos_dir: Path, now: datetime, *, dry_run: bool) -> PurgeReport:
    """`purge` in its own transaction (committed unless a dry run), then the photo files no
    row refers to any more: what the scheduler and `relais purge` run."""
    async with db.session() as session:
        report = await purge(session, now, dry_run=dry_run)
        if dry_run:
            await session.rollback()
        else:
            await session.commit()
    if not dry_run:
        remove_files(photos_dir, report.stale_files)
    return report
