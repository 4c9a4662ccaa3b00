"""Consent to share the phone's position during a trip (ss. 8.1, 9.1): asked the first time,
recorded with the version of the text the parent read, withdrawn at any time. Without it the
parent announces by time only: the most private setting is the default."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import Consent

LOCATION = "location"
# Change this when the consent text (templates/parent/_consent.html) changes in substance:
# a parent who agreed to an older text is asked again.
LOCATION_TEXT_VERSION = "location-2026-12"


async def current(
    session: AsyncSession, guardian_id: int, purpose: str = LOCATION
) -> Consent | None:
    """The guardian's standing consent to the current text, or None."""
    query = (
        select(Consent)
        .where(
            col(Consent.guardian_id) == guardian_id,
            col(Consent.purpose) == purpose,
            col(Consent.text_version) == LOCATION_TEXT_VERSION,
            col(Consent.withdrawn_at).is_(None),
        )
        .order_by(col(Consent.id).desc())
        .limit(1)
    )
    found: Consent | None = await session.scalar(query)
    return found


async def give(
    session: AsyncSession, *, organization_id: int, guardian_id: int, now: datetime
) -> Consent:
    """Record the consent (once: giving it again keeps the first record)."""
    existing = await current(session, guardian_id)
    if existing is not None:
        return existing
    consent = Consent(
        organization_id=organization_id,
        guardian_id=guardian_id,
        purpose=LOCATION,
        text_version=LOCATION_TEXT_VERSION,
        given_at=now,
    )
    session.add(consent)
    await session.flush()
    return consent


async def withdraw(session: AsyncSession, guardian_id: int, now: datetime) -> bool:
    """Withdraw every standing location consent of the guardian; True when there was one."""
    result = await session.execute(
        update(Consent)
        .where(
            col(Consent.guardian_id) == guardian_id,
            col(Consent.purpose) == LOCATION,
            col(Consent.withdrawn_at).is_(None),
        )
        .values(withdrawn_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
