"""/admin/displays: the wall displays (a board on a wall screen, opened by a revocable link):
the list, a form to create a link (shown once), and revoking one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...accounts import queries as accounts
from ...core.i18n import _
from ...core.models import Display, Group, Installation
from ...core.security import new_token, token_hash
from ...roster import queries as roster
from ..context import public_base_url, services
from ..limits import parse_id
from ..routing import get, post
from ..sessions import require_admin
from .common import ShownOnce, admin_form, admin_page, revoke, see_other

# The new display link is shown once, on the page the form redirects to.
NEW_LINK = ShownOnce("admin.displays", "relais_new_link")


async def displays_page(
    request: Request, *, new_link: str | None = None, error: str | None = None
) -> Response:
    principal = await require_admin(request)
    organization_id = principal.organization_id
    async with services(request).db.session() as session:
        installations = await roster.installations(session, organization_id)
        groups = await roster.groups(session, [i.id for i in installations if i.id is not None])
        displays = await accounts.wall_displays(session, organization_id)
    return admin_page(
        request,
        "admin/displays.html",
        "displays",
        status_code=400 if error else 200,
        installations=installations,
        groups=groups,
        displays=displays,
        installation_names={i.id: i.name for i in installations},
        group_names={g.id: g.name for g in groups},
        new_link=new_link,
        error=error,
    )


async def displays_home(request: Request) -> Response:
    return await NEW_LINK.page(request, lambda link: displays_page(request, new_link=link))


async def create_display(request: Request) -> Response:
    principal, form = await admin_form(request)
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
            return await displays_page(request, error=_("That group is not in that installation."))
        if installation is None or installation.organization_id != principal.organization_id:
            return await displays_page(request, error=_("Choose one of your installations."))
        if group is not None and group.installation_id != installation.id:
            return await displays_page(request, error=_("That group is not in that installation."))
        if not name:
            return await displays_page(
                request, error=_("Give the display a name, e.g. “Reception”.")
            )
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
    display = request.app.url_path_for("display.page", token=token)
    link = f"{public_base_url(request).rstrip('/')}{display}"
    return NEW_LINK.redirect(request, link)


async def revoke_display(request: Request) -> Response:
    display_id: int = request.path_params["display_id"]
    await revoke(request, Display, display_id)
    await services(request).broker.publish_control(
        {"type": "display_revoked", "display_id": display_id}
    )
    return see_other(request, "admin.displays")


routes: list[BaseRoute] = [
    get("/admin/displays", displays_home, "admin.displays"),
    post("/admin/displays", create_display, "admin.display_create"),
    post("/admin/displays/{display_id:id}/revoke", revoke_display, "admin.display_revoke"),
]
