"""/admin: the plain administration page. Here: wall displays (create a link, revoke it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import col
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...core.i18n import _
from ...core.models import Display, Group, Installation
from ...core.security import new_token, token_hash
from ..context import (
    csrf_form,
    page,
    public_base_url,
    redirect_showing_once,
    services,
)
from ..limits import parse_id, path_id
from ..sessions import require_admin
from . import guardians, photos


async def admin_page(
    request: Request, *, new_link: str | None = None, error: str | None = None
) -> Response:
    principal = await require_admin(request)
    async with services(request).db.session() as session:
        installations = (
            (
                await session.execute(
                    select(Installation)
                    .where(col(Installation.organization_id) == principal.organization_id)
                    .order_by(col(Installation.name))
                )
            )
            .scalars()
            .all()
        )
        groups = (
            (
                await session.execute(
                    select(Group)
                    .join(Installation, col(Installation.id) == col(Group.installation_id))
                    .where(col(Installation.organization_id) == principal.organization_id)
                    .order_by(col(Group.name))
                )
            )
            .scalars()
            .all()
        )
        sections = {
            **await guardians.admin_context(session, principal),
            **await photos.admin_context(session, principal),
        }
        displays = (
            (
                await session.execute(
                    select(Display)
                    .where(col(Display.organization_id) == principal.organization_id)
                    .order_by(col(Display.created_at).desc())
                )
            )
            .scalars()
            .all()
        )
    return page(
        request,
        "admin/page.html",
        status_code=400 if error else 200,
        installations=installations,
        groups=groups,
        displays=displays,
        installation_names={i.id: i.name for i in installations},
        group_names={g.id: g.name for g in groups},
        new_link=new_link,
        error=error,
        **sections,
    )


# The new display link is shown once, on the page the form redirects to (post/redirect/get:
# reloading that page must not create a second display).
NEW_LINK_COOKIE = "relais_new_link"


async def admin_home(request: Request) -> Response:
    new_link = request.cookies.get(NEW_LINK_COOKIE)
    response = await admin_page(request, new_link=new_link)
    if new_link:
        response.delete_cookie(NEW_LINK_COOKIE, path="/admin")
    return response


async def create_display(request: Request) -> Response:
    principal = await require_admin(request)
    form = await csrf_form(request)
    name = str(form.get("name", "")).strip()[:200]
    svc = services(request)
    async with svc.db.session() as session:
        installation = None
        group = None
        installation_id = parse_id(form.get("installation_id"))
        if installation_id is not None:
            installation = await session.get(Installation, installation_id)
        group_value = str(form.get("group_id", "all"))
        group_id = parse_id(group_value)
        if group_id is not None:
            group = await session.get(Group, group_id)
        elif group_value != "all":
            return await admin_page(request, error=_("That group is not in that installation."))
        if installation is None or installation.organization_id != principal.organization_id:
            return await admin_page(request, error=_("Choose one of your installations."))
        if group is not None and group.installation_id != installation.id:
            return await admin_page(request, error=_("That group is not in that installation."))
        if not name:
            return await admin_page(request, error=_("Give the display a name, e.g. “Reception”."))
        token = new_token()
        assert installation.id is not None
        session.add(
            Display(
                organization_id=principal.organization_id,
                installation_id=installation.id,
                group_id=group.id if group else None,
                name=name,
                token_hash=token_hash(token),
                created_at=svc.clock.now(),
            )
        )
        await session.commit()
    return redirect_showing_once(
        request,
        "/admin",
        NEW_LINK_COOKIE,
        f"{public_base_url(request).rstrip('/')}/display/{token}",
    )


async def revoke_display(request: Request) -> Response:
    principal = await require_admin(request)
    await csrf_form(request)
    svc = services(request)
    display_id = path_id(request.path_params, "display_id")
    async with svc.db.session() as session:
        display = await session.get(Display, display_id)
        if display is None or display.organization_id != principal.organization_id:
            raise HTTPException(404, _("Not found, or not yours to see."))
        if display.revoked_at is None:
            display.revoked_at = svc.clock.now()
            session.add(display)
            await session.commit()
    await svc.broker.publish_control({"type": "display_revoked", "display_id": display_id})
    return RedirectResponse("/admin", status_code=303)


routes = [
    Route("/admin", admin_home, methods=["GET"]),
    Route("/admin/displays", create_display, methods=["POST"]),
    Route("/admin/displays/{display_id}/revoke", revoke_display, methods=["POST"]),
]
