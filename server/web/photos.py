"""Photos of children and guardians: a parent's upload, the centre's approval, serving them to
those allowed to see them. (Being built: see issue 3.)"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute

from ..authz import StaffPrincipal


async def admin_context(session: AsyncSession, principal: StaffPrincipal) -> dict[str, Any]:
    """What the /admin page's "Photos awaiting approval" section shows."""
    return {}


routes: list[BaseRoute] = []
