"""What the portal's pages share: the centre's installation and the page with its section of
the menu. Handler modules import this, never each other."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from ...accounts.authz import CenterPrincipal
from ...core.models import Installation
from ..context import page


async def installation_of(session: AsyncSession, principal: CenterPrincipal) -> Installation:
    installation = await session.get(Installation, principal.installation_id)
    assert installation is not None
    return installation


def portal_page(
    request: Request,
    template: str,
    section: str,
    installation: Installation,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page of the portal, `section` lit in its menu (templates/portal/_layout.html)."""
    return page(
        request,
        template,
        status_code=status_code,
        portal_section=section,
        installation_name=installation.display_name or installation.name,
        **context,
    )


def see_other(request: Request, route: str, query: str = "") -> RedirectResponse:
    """After a form: to the portal's page `route` (with `query`, already encoded)."""
    target = str(request.app.url_path_for(route))
    return RedirectResponse(f"{target}?{query}" if query else target, status_code=303)
