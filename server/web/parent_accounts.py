"""Parents' accounts: sign-in, invitations and activation links, forgotten passwords, the demo
outbox. (Being built: see issue 3.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute

from ..authz import StaffPrincipal


async def admin_context(session: AsyncSession, principal: StaffPrincipal) -> dict[str, Any]:
    """What the /admin page's "Parents" section shows."""
    return {}


routes: list[BaseRoute] = []
