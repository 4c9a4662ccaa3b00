"""The centre account's sign-in to the portal (/portal/login, /portal/logout), and who is
signed in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlmodel import col
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...accounts.authz import CenterPrincipal
from ...core import ratelimit
from ...core.i18n import _
from ...core.models import (
    CenterAccount,
    CenterSession,
    Installation,
)
from ...core.security import new_token, token_hash, verify_password
from ..context import PORTAL_COOKIE, csrf_form, is_secure, page, services
from ..sessions import session_owner
from . import signin

MAX_PASSWORD = 256
PORTAL_SESSION_LIFETIME = timedelta(hours=12)


class PortalSignInRequired(Exception):
    """Answered by a redirect to /portal/login."""


async def portal_sign_in_required(request: Request, exc: Exception) -> Response:
    return RedirectResponse("/portal/login", status_code=303)


async def center_principal(conn: HTTPConnection) -> CenterPrincipal | None:
    found = await session_owner(
        conn, PORTAL_COOKIE, CenterSession, CenterAccount, col(CenterSession.center_account_id)
    )
    if found is None:
        return None
    hashed, account = found
    assert account.id is not None
    async with services(conn).db.session() as session:
        installation = await session.get(Installation, account.installation_id)
    assert installation is not None
    return CenterPrincipal(
        center_account_id=account.id,
        organization_id=installation.organization_id,
        installation_id=account.installation_id,
        email=account.email,
        session_hash=hashed,
    )


async def require_center(conn: HTTPConnection) -> CenterPrincipal:
    principal = await center_principal(conn)
    if principal is None:
        raise PortalSignInRequired()
    return principal


async def login_page(request: Request) -> Response:
    if await center_principal(request) is not None:
        return RedirectResponse("/portal/profile", status_code=303)
    return page(request, "portal/login.html", email="", error=None)


async def login_submit(request: Request) -> Response:
    form = await csrf_form(request)
    email = str(form.get("email", "")).strip().lower()[:254]
    password = str(form.get("password", ""))[: MAX_PASSWORD + 1]
    svc = services(request)
    now = svc.clock.now()
    attempt = signin.start(request, "portal", email)
    async with svc.db.session() as session:
        refused = await signin.refused(session, attempt, now)
        if refused is not None:
            wait = page(
                request,
                "portal/login.html",
                email=email,
                error=ratelimit.rate_limited_message(refused),
            )
            return signin.too_many(wait, refused)
        # Two organizations' centre accounts may share an address: each is tried.
        candidates: list[CenterAccount | None] = list(
            (
                await session.execute(
                    select(CenterAccount)
                    .where(func.lower(CenterAccount.email) == email)
                    .order_by(col(CenterAccount.id))
                )
            ).scalars()
        )
        account: CenterAccount | None = None
        for candidate in candidates or [None]:
            hashed = candidate.password_hash if candidate is not None else None
            if await run_in_threadpool(verify_password, hashed, password) and candidate:
                account = candidate
                break
        if account is None:
            await signin.failed(session, attempt, now)
            await session.commit()
            return page(
                request,
                "portal/login.html",
                status_code=400,
                email=email,
                error=_("Wrong email or password."),
            )
        assert account.id is not None
        await signin.succeeded(session, attempt)
        token = new_token()
        session.add(
            CenterSession(
                token_hash=token_hash(token),
                center_account_id=account.id,
                created_at=now,
                expires_at=now + PORTAL_SESSION_LIFETIME,
            )
        )
        await session.commit()
    response = RedirectResponse("/portal/profile", status_code=303)
    response.set_cookie(
        PORTAL_COOKIE,
        token,
        max_age=int(PORTAL_SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )
    signin.remember(request, response, "portal", email)
    return response


async def logout(request: Request) -> Response:
    await csrf_form(request)
    principal = await center_principal(request)
    if principal is not None:
        async with services(request).db.session() as session:
            await session.execute(
                delete(CenterSession).where(col(CenterSession.token_hash) == principal.session_hash)
            )
            await session.commit()
    response = RedirectResponse("/portal/login", status_code=303)
    response.delete_cookie(PORTAL_COOKIE)
    return response


routes: list[BaseRoute] = [
    Route("/portal/login", login_page, methods=["GET"]),
    Route("/portal/login", login_submit, methods=["POST"]),
    Route("/portal/logout", logout, methods=["POST"]),
]
