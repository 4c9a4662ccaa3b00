"""/admin/tokens: API tokens for the organization's integrations (create, revoke, last used).

A token is shown once, on the page the creation redirects to (post/redirect/get with a
short-lived cookie, like display links): the database keeps only its SHA-256.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...accounts import queries as accounts
from ...core.i18n import _
from ...core.models import ApiToken
from ...core.security import new_token, token_hash
from ..context import services
from ..routing import get, post
from ..sessions import require_admin
from .common import ShownOnce, admin_form, admin_page, organization_zone, revoke, see_other

NEW_TOKEN = ShownOnce("admin.tokens", "relais_new_api_token")


async def tokens_page(
    request: Request,
    *,
    new_token_value: str | None = None,
    name: str = "",
    error: str | None = None,
) -> Response:
    principal = await require_admin(request)
    async with services(request).db.session() as session:
        tokens = await accounts.api_tokens(session, principal.organization_id)
        zone = await organization_zone(session, principal.organization_id)
    return admin_page(
        request,
        "admin/tokens.html",
        "tokens",
        status_code=400 if error else 200,
        tokens=tokens,
        tz_info=zone,
        new_token=new_token_value,
        name=name,
        error=error,
    )


async def tokens_home(request: Request) -> Response:
    return await NEW_TOKEN.page(request, lambda token: tokens_page(request, new_token_value=token))


async def create_token(request: Request) -> Response:
    principal, form = await admin_form(request)
    name = str(form.get("name", "")).strip()
    if not name:
        return await tokens_page(
            request, error=_("Name the token after what uses it, e.g. “Management system”.")
        )
    if len(name) > 200:
        return await tokens_page(
            request, name=name[:300], error=_("That name is too long: 200 characters at most.")
        )
    svc = services(request)
    token = new_token()
    async with svc.db.session() as session:
        session.add(
            ApiToken(
                organization_id=principal.organization_id,
                name=name,
                token_hash=token_hash(token),
                created_at=svc.clock.now(),
            )
        )
        await session.commit()
    return NEW_TOKEN.redirect(request, token)


async def revoke_token(request: Request) -> Response:
    token_id: int = request.path_params["token_id"]
    await revoke(request, ApiToken, token_id)
    return see_other(request, "admin.tokens", fragment=f"token-{token_id}")


routes = [
    get("/admin/tokens", tokens_home, "admin.tokens"),
    post("/admin/tokens", create_token, "admin.token_create"),
    post("/admin/tokens/{token_id:id}/revoke", revoke_token, "admin.token_revoke"),
]
