"""Changes to a child made on the daycare side: moving it to another group of its installation."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .models import Child, Group
from .pickups.events import BoardEvent, next_seq


class WrongInstallation(ValueError):
    """The target group belongs to another installation."""


async def move_to_group(session: AsyncSession, child: Child, group: Group) -> list[BoardEvent]:
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
    return [
        BoardEvent(
            child.installation_id,
            seq,
            "child_moved",
            groups=(old_group, group.id),
            children=(child.id,),
        )
    ]
