"""A parent asks the daycare to correct a field synced from the management system (their own
name or email, a child's name): Relais does not change it — the management system is the
truth, and the next sync would undo it — it records the request and tells the director, who
corrects it there and marks the request answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.i18n import _
from ..core.models import Child, Guardian, RectificationRequest

FIELDS = ("first_name", "last_name", "email")
CHILD_FIELDS = ("first_name", "last_name")
MAX_VALUE = 254


def field_label(field: str) -> str:
    return {"first_name": _("First name"), "last_name": _("Last name"), "email": _("Email")}[field]


def ask(
    session: AsyncSession,
    guardian: Guardian,
    target: Guardian | Child,
    field: str,
    value: str,
    now: datetime,
) -> RectificationRequest | str:
    """Record the request (the caller commits), or say what is wrong with it."""
    allowed = FIELDS if isinstance(target, Guardian) else CHILD_FIELDS
    value = value.strip()
    if field not in allowed:
        return _("Choose the information to correct.")
    if not value or len(value) > MAX_VALUE:
        return _("Write the correct value (254 characters at most).")
    current = str(getattr(target, field))
    if value == current:
        return _("That is already what the daycare has.")
    assert guardian.id is not None
    request = RectificationRequest(
        organization_id=guardian.organization_id,
        guardian_id=guardian.id,
        child_id=target.id if isinstance(target, Child) else None,
        field=field,
        current_value=current,
        requested_value=value,
        created_at=now,
    )
    session.add(request)
    return request


async def open_requests(
    session: AsyncSession, organization_id: int
) -> list[tuple[RectificationRequest, Guardian, Child | None]]:
    """The requests not yet answered, oldest first, with who asked and the child concerned."""
    query = (
        select(RectificationRequest, Guardian, Child)
        .join(Guardian, col(Guardian.id) == col(RectificationRequest.guardian_id))
        .outerjoin(Child, col(Child.id) == col(RectificationRequest.child_id))
        .where(
            col(RectificationRequest.organization_id) == organization_id,
            col(RectificationRequest.resolved_at).is_(None),
        )
        .order_by(col(RectificationRequest.id))
    )
    return [(r, g, c) for r, g, c in await session.execute(query)]


def resolve(request: RectificationRequest, by: str, now: datetime) -> None:
    request.resolved_at = now
    request.resolved_by_name = by[:200]


async def requests_of(session: AsyncSession, guardian_id: int) -> list[RectificationRequest]:
    """A parent's own correction requests, newest first."""
    return list(
        await session.scalars(
            select(RectificationRequest)
            .where(col(RectificationRequest.guardian_id) == guardian_id)
            .order_by(col(RectificationRequest.id).desc())
        )
    )
