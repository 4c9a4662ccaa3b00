"""Changes to a child made on the daycare side: moving it to another group of its installation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ..core.models import Child, Group, Installation
from .attendance import today_attendance
from .events import BoardEvent, ChildRow, next_seq


class WrongInstallation(ValueError):
    """The target group belongs to another installation."""


async def move_to_group(
    session: AsyncSession, child: Child, group: Group, now: datetime
) -> list[BoardEvent]:
    """Live alerts follow the child: boards filter by the child's group *now*."""
    if group.installation_id != child.installation_id:
        raise WrongInstallation(group.id)
    assert group.id is not None
    if child.group_id == group.id:
        return []
    old_group = child.group_id
    child.group_id = group.id
    session.add(child)
    await session.flush()
    seq = await next_seq(session, child.installation_id)
    assert child.id is not None
    installation = await session.get(Installation, child.installation_id)
    assert installation is not None
    attendance = await today_attendance(session, child, installation, now)
    checked_in = attendance is not None
    departed = checked_in and attendance is not None and attendance.checked_out_at is not None
    row = ChildRow(
        child.id,
        child.first_name,
        child.last_name,
        group.id,
        present=checked_in and not departed,
        departed=departed,
    )
    return [
        BoardEvent(
            child.installation_id,
            seq,
            "child_moved",
            groups=(old_group, group.id),
            children=(child.id,),
            child=row,
        )
    ]
