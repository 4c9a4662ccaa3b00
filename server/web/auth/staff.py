"""Staff sign-in and sign-out. Sessions are server-side rows: signing out or disabling an
account ends them for real, open boards included."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlparse

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...accounts import staff as staff_accounts
from ...accounts.guardians import MAX_PASSWORD_LENGTH, normalize_email
from ...core.i18n import _
from ...core.models import StaffSession, StaffUser
from ...core.ratelimit import rate_limited_message
from ...core.security import new_token, token_hash, verify_password
from .. import context
from ..context import SESSION_COOKIE, SESSION_LIFETIME, csrf_form, page, services
from . import signin


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a crafted ?next= must not send staff to another site."""
    if not target:
        return "/board"
    # Browsers read a backslash as "/": "/\\evil.example" would leave like "//evil.example".
    normalized = target.replace("\\", "/")
    parsed = urlparse(normalized)
    if (
        parsed.scheme
        or parsed.netloc
        or not normalized.startswith("/")
        or normalized.startswith("//")
    ):
        return "/board"
    if any(ord(c) < 32 for c in normalized):
        return "/board"
    return normalized


async def login_page(request: Request) -> Response:
    if await context.staff_principal(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    return _login_page(request, next=request.query_params.get("next", ""), error=None)


def _login_page(
    request: Request, *, status_code: int = 200, next: str = "", email: str = "", error: str | None
) -> Response:
    return page(
        request, "auth/login.html", status_code=status_code, next=next, email=email, error=error
    )


async def login_submit(request: Request) -> Response:
    form = await csrf_form(request)
    email = normalize_email(str(form.get("email", "")))[:254]
    password = str(form.get("password", ""))[: MAX_PASSWORD_LENGTH + 1]
    target = _safe_next(str(form.get("next", "")))
    svc = services(request)
    now = svc.clock.now()
    attempt = signin.start(request, "staff", email)
    async with svc.db.session() as session:
        refused = await signin.refused(session, attempt, now)
        if refused is not None:
            wait = _login_page(
                request, next=target, email=email, error=rate_limited_message(refused)
            )
            return signin.too_many(wait, refused)
        # An address may have an account in two organizations: each is tried, like parents'.
        candidates: list[StaffUser | None] = [
            user
            for user in await staff_accounts.users_by_email(session, email)
            if user.active and staff_accounts.has_password(user)
        ]
        user: StaffUser | None = None
        # With no candidate, check against a dummy hash anyway: same time, nothing learned.
        for candidate in candidates or [None]:
            hashed = candidate.password_hash if candidate is not None else None
            if await run_in_threadpool(verify_password, hashed, password) and candidate:
                user = candidate
                break
        if user is None:
            await signin.failed(session, attempt, now)
            await session.commit()
            # One message for every failure: no probing which emails exist.
            return _login_page(
                request,
                status_code=400,
                next=target,
                email=email,
                error=_("Wrong email or password, or the account is disabled."),
            )
        await signin.succeeded(session, attempt)
        token = add_session(session, request, user, now)
        await session.commit()
    response = signed_in_redirect(request, token, target)
    signin.remember(request, response, "staff", email)
    return response


def add_session(session: AsyncSession, request: Request, user: StaffUser, now: datetime) -> str:
    """A new server-side session for `user` (the caller commits); returns the cookie's token."""
    token = new_token()
    assert user.id is not None
    session.add(
        StaffSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
            user_agent=request.headers.get("user-agent", "")[:300],
        )
    )
    return token


def signed_in_redirect(request: Request, token: str, target: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=context.is_secure(request),
    )
    return response


async def logout(request: Request) -> Response:
    await csrf_form(request)
    principal = await context.staff_principal(request)
    if principal is not None:
        await end_sessions(request, [principal.session_hash])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def end_sessions(request: Request, hashes: list[str]) -> None:
    """Delete the sessions and close every board socket opened with them, on every worker."""
    svc = services(request)
    async with svc.db.session() as session:
        await session.execute(delete(StaffSession).where(col(StaffSession.token_hash).in_(hashes)))
        await session.commit()
    await svc.broker.publish_control({"type": "sessions_ended", "sessions": hashes})


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
