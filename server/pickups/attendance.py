"""Attendance: a child is present today from check-in to check-out (departure)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import Attendance, Child, Installation
from .events import BoardEvent, ChildRow, next_seq
from .rules import local_day


async def today_attendance(
    session: AsyncSession, child: Child, installation: Installation, now: datetime
) -> Attendance | None:
    day = local_day(now, installation.timezone)
    return (
        await session.execute(
            select(Attendance).where(
                col(Attendance.child_id) == child.id,
                col(Attendance.day) == day,
            )
        )
    ).scalar_one_or_none()


async def check_in(
    session: AsyncSession, child: Child, installation: Installation, now: datetime
) -> list[BoardEvent]:
    """Mark the child present today. Already present: nothing changes (a double tap is safe)."""
    assert child.id is not None and installation.id is not None
    attendance = await today_attendance(session, child, installation, now)
    if attendance is not None and attendance.checked_out_at is None:
        return []
    if attendance is None:
        session.add(
            Attendance(
                child_id=child.id,
                installation_id=installation.id,
                day=local_day(now, installation.timezone),
                checked_in_at=now,
            )
        )
    else:
        attendance.checked_out_at = None  # came back after leaving
        session.add(attendance)
    await session.flush()
    return [await _event(session, child, installation.id, present=True)]


async def _event(
    session: AsyncSession, child: Child, installation_id: int, *, present: bool
) -> BoardEvent:
    """The board event for a check-in or a check-out, carrying the child's new line."""
    assert child.id is not None
    seq = await next_seq(session, installation_id)
    row = ChildRow(
        child.id, child.first_name, child.last_name, child.group_id, present, not present
    )
    return BoardEvent(
        installation_id,
        seq,
        "attendance",
        groups=(child.group_id,),
        children=(child.id,),
        child=row,
    )


async def check_out(
    session: AsyncSession, child: Child, installation: Installation, now: datetime
) -> bool:
    """Record the departure. Returns False when the child was not present. The caller
    publishes the event (a departure is part of a pickup transition)."""
    attendance = await today_attendance(session, child, installation, now)
    if attendance is None or attendance.checked_out_at is not None:
        return False
    attendance.checked_out_at = now
    session.add(attendance)
    await session.flush()
    return True


async def mark_absent(
    session: AsyncSession, child: Child, installation: Installation, now: datetime
) -> list[BoardEvent]:
    """Check the child out without a pickup (the management system says it left or is absent)."""
    assert installation.id is not None and child.id is not None
    if not await check_out(session, child, installation, now):
        return []
    return [await _event(session, child, installation.id, present=False)]
