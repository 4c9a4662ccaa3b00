"""What the director's pages share: the administrator and the form every action starts with,
the page with its section of the menu, the organization's time zone, redirects by route name,
a secret shown once (`ShownOnce`) and revoking a link or a token. Handler modules import this,
never each other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...accounts.authz import StaffPrincipal
from ...core.models import Organization
from ..context import csrf_form, page, redirect_showing_once, services
from ..lookups import owned
from ..sessions import require_admin

# An organization's zone when it has none on record (the models' default).
DEFAULT_ZONE = "America/Toronto"


async def admin_form(request: Request) -> tuple[StaffPrincipal, FormData]:
    """A director's action: the administrator (403 for anyone else) and the form, its CSRF
    token checked."""
    principal = await require_admin(request)
    return principal, await csrf_form(request)


def admin_page(
    request: Request, template: str, section: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page of the administration, `section` lit in its menu (templates/admin/_nav.html)."""
    return page(request, template, status_code=status_code, admin_section=section, **context)


async def organization_zone(session: AsyncSession, organization_id: int) -> ZoneInfo:
    """The zone the organization's times are shown in."""
    organization = await session.get(Organization, organization_id)
    return ZoneInfo(organization.timezone if organization else DEFAULT_ZONE)


def see_other(
    request: Request,
    route: str,
    *,
    query: Mapping[str, object] | None = None,
    fragment: str = "",
    **params: Any,
) -> RedirectResponse:
    """Post/redirect/get to the route named `route` (its path `params`), with an optional
    query and fragment."""
    url = str(request.app.url_path_for(route, **params))
    if query:
        url += "?" + urlencode({key: str(value) for key, value in query.items()})
    if fragment:
        url += "#" + fragment
    return RedirectResponse(url, status_code=303)


@dataclass(frozen=True)
class ShownOnce:
    """A secret a creation makes (a new display link, an API token), shown once on the page
    `route` the form redirects to (post/redirect/get: reloading that page neither shows it
    again nor creates a second one), carried there by the short-lived `cookie`."""

    route: str
    cookie: str

    def redirect(self, request: Request, secret: str) -> Response:
        """To the page, which shows `secret` once."""
        path = request.app.url_path_for(self.route)
        return redirect_showing_once(request, path, self.cookie, secret)

    async def page(
        self, request: Request, render: Callable[[str | None], Awaitable[Response]]
    ) -> Response:
        """The page, given the secret the creation left (None on any other visit); the cookie
        is dropped."""
        shown = request.cookies.get(self.cookie)
        response = await render(shown)
        if shown:
            response.delete_cookie(self.cookie, path=request.app.url_path_for(self.route))
        return response


class Revocable(Protocol):
    organization_id: int
    revoked_at: datetime | None


async def revoke(request: Request, model: type[Revocable], row_id: int) -> None:
    """Revoke the organization's link or token `row_id` (404 when not theirs); revoking it
    again changes nothing."""
    principal, _form = await admin_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        row = await owned(session, model, row_id, principal.organization_id)
        if row.revoked_at is None:
            row.revoked_at = svc.clock.now()
            session.add(row)
            await session.commit()
