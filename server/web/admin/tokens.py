"""/admin/tokens: API tokens for the organization's integrations (create, revoke, last used).

A token is shown once, on the page the creation redirects to (post/redirect/get with a
short-lived cookie, like display links): the database keeps only its SHA-256.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import col
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...core.i18n import _
from ...core.models import ApiToken, Organization
from ...core.security import new_token, token_hash
from ..context import csrf_form, page, redirect_showing_once, services
from ..limits import path_id
from ..sessions import require_admin

NEW_TOKEN_COOKIE = "relais_new_api_token"
COOKIE_PATH = "/admin/tokens"


async def tokens_page(
    request: Request,
    *,
    new_token_value: str | None = None,
    name: str = "",
    error: str | None = None,
) -> Response:
    principal = await require_admin(request)
    async with services(request).db.session() as session:
        organization = await session.get(Organization, principal.organization_id)
        tokens = (
            (
                await session.execute(
                    select(ApiToken)
                    .where(col(ApiToken.organization_id) == principal.organization_id)
                    .order_by(
                        col(ApiToken.revoked_at).is_not(None), col(ApiToken.created_at).desc()
                    )
                )
            )
            .scalars()
            .all()
        )
    tz = ZoneInfo(organization.timezone if organization else "America/Toronto")
    return page(
        request,
        "admin/tokens.html",
        status_code=400 if error else 200,
        admin_section="tokens",
        tokens=tokens,
        tz_info=tz,
        new_token=new_token_value,
        name=name,
        error=error,
    )


async def tokens_home(request: Request) -> Response:
    shown = request.cookies.get(NEW_TOKEN_COOKIE)
    response = await tokens_page(request, new_token_value=shown)
    if shown:
        response.delete_cookie(NEW_TOKEN_COOKIE, path=COOKIE_PATH)
    return response


async def create_token(request: Request) -> Response:
    principal = await require_admin(request)
    form = await csrf_form(request)
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
    return redirect_showing_once(request, COOKIE_PATH, NEW_TOKEN_COOKIE, token)


async def revoke_token(request: Request) -> Response:
    principal = await require_admin(request)
    await csrf_form(request)
    svc = services(request)
    token_id = path_id(request.path_params, "token_id")
    async with svc.db.session() as session:
        token = await session.get(ApiToken, token_id)
        if token is None or token.organization_id != principal.organization_id:
            raise HTTPException(404, _("Not found, or not yours to see."))
        if token.revoked_at is None:
            token.revoked_at = svc.clock.now()
            session.add(token)
            await session.commit()
    return RedirectResponse(f"{COOKIE_PATH}#token-{token_id}", status_code=303)


routes = [
    Route("/admin/tokens", tokens_home, methods=["GET"]),
    Route("/admin/tokens", create_token, methods=["POST"]),
    Route("/admin/tokens/{token_id}/revoke", revoke_token, methods=["POST"]),
]
