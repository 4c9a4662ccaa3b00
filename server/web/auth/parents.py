"""Parents' accounts: sign-in, invitation (activation) links, forgotten passwords, the demo
outbox, and the "Parents" section of /admin.

No answer here tells whether an email address has an account: sign-in failures share one
message, and "send me a link" always answers the same sentence. Links are sent after the
answer (a background task), so the time taken does not tell either.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...accounts import guardians as accounts
from ...accounts.guardians import ACTIVATE, RESET, LinkProblem, LinkRefused, ValidLink
from ...core import ratelimit
from ...core.i18n import _
from ...core.models import Guardian
from ...core.ratelimit import (
    LINK_EMAIL_LIMIT,
    LINK_IP_LIMIT,
    Limit,
    RateDecision,
    rate_limited_message,
)
from ...core.security import verify_password
from ..context import csrf_form, page, services
from ..context import public_base_url as public_base_url
from ..parent_session import end_session, guardian_principal, start_session
from . import signin
from .signin import client_address

log = logging.getLogger(__name__)


_TEMPLATES = {ACTIVATE: "parent/activate.html", RESET: "parent/reset.html"}


def generic_sent_message() -> str:
    """The one answer to "send me a link", whether or not the address has an account."""
    return _("If an account exists for this address, an email has just been sent.")


async def _limited(
    session: AsyncSession, checks: Sequence[tuple[str, Limit]], now: datetime
) -> RateDecision | None:
    """The longest wait among the limits already reached, if any (counts nothing)."""
    worst: RateDecision | None = None
    for key, limit in checks:
        decision = await ratelimit.peek(session, key, limit.count, limit.window, now)
        if not decision.allowed and (worst is None or decision.retry_after > worst.retry_after):
            worst = decision
    return worst


# -- sign-in ------------------------------------------------------------------------------


def _login_page(
    request: Request, *, status_code: int = 200, email: str = "", error: str | None = None
) -> Response:
    return page(request, "parent/login.html", status_code=status_code, email=email, error=error)


async def login_page(request: Request) -> Response:
    if await guardian_principal(request) is not None:
        return RedirectResponse("/parent", status_code=303)
    return _login_page(request)


async def login_submit(request: Request) -> Response:
    form = await csrf_form(request)
    email = accounts.normalize_email(str(form.get("email", "")))[:254]
    password = str(form.get("password", ""))[: accounts.MAX_PASSWORD_LENGTH + 1]
    svc = services(request)
    now = svc.clock.now()
    attempt = signin.start(request, "parent", email)
    async with svc.db.session() as session:
        refused = await signin.refused(session, attempt, now)
        if refused is not None:
            wait = _login_page(request, email=email, error=rate_limited_message(refused))
            return signin.too_many(wait, refused)
        candidates: list[Guardian | None] = [
            g
            for g in await accounts.guardians_by_email(session, email)
            if g.account_state == "active" and g.password_hash
        ]
        signed_in: Guardian | None = None
        # With no candidate, check against a dummy hash anyway: same time, nothing learned.
        for guardian in candidates or [None]:
            hashed = guardian.password_hash if guardian is not None else None
            if await run_in_threadpool(verify_password, hashed, password) and guardian:
                signed_in = guardian
                break
        if signed_in is None:
            await signin.failed(session, attempt, now)
            await session.commit()
            return _login_page(
                request,
                status_code=400,
                email=email,
                error=_("Wrong email or password."),
            )
        await signin.succeeded(session, attempt)
        await session.commit()
    response = RedirectResponse("/parent", status_code=303)
    await start_session(request, response, signed_in)
    signin.remember(request, response, "parent", email)
    return response


async def logout(request: Request) -> Response:
    await csrf_form(request)
    response = RedirectResponse("/parent/login", status_code=303)
    await end_session(request, response)
    return response


# -- one-time links (activation, reset) ---------------------------------------------------


def _problem_page(request: Request, problem: LinkProblem, purpose: str) -> Response:
    messages = {
        LinkProblem.EXPIRED: _(
            "This link has expired, or a newer link has replaced it. Links work for a limited "
            "time, and only the latest one sent works."
        ),
        LinkProblem.USED: _(
            "This link has already been used: each link works only once. If you have chosen "
            "your password, sign in with it."
        ),
        LinkProblem.UNKNOWN: _(
            "This link does not work. It may have been cut short: open it from the email "
            "again, or ask for a new one."
        ),
    }
    return page(
        request,
        "parent/link_problem.html",
        status_code=404 if problem == LinkProblem.UNKNOWN else 410,
        problem=problem.value,
        problem_message=messages[problem],
        purpose=purpose,
    )


def _password_page(
    request: Request, link: ValidLink, purpose: str, *, error: str | None = None
) -> Response:
    return page(
        request,
        _TEMPLATES[purpose],
        status_code=400 if error else 200,
        action=request.url.path,
        first_name=link.guardian.first_name,
        email=link.guardian.email,
        organization=link.organization.name,
        min_length=accounts.MIN_PASSWORD_LENGTH,
        error=error,
    )


async def _link_get(request: Request, purpose: str) -> Response:
    svc = services(request)
    async with svc.db.session() as session:
        link = await accounts.open_link(
            session, request.path_params["token"], purpose, svc.clock.now()
        )
    if isinstance(link, LinkProblem):
        return _problem_page(request, link, purpose)
    return _password_page(request, link, purpose)


async def _link_post(request: Request, purpose: str) -> Response:
    form = await csrf_form(request)
    password = str(form.get("password", ""))
    confirmation = str(form.get("password_confirmation", ""))
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        link = await accounts.open_link(session, request.path_params["token"], purpose, now)
        if isinstance(link, LinkProblem):
            return _problem_page(request, link, purpose)
        problem = accounts.password_problem(password, confirmation, link.guardian.email)
        if problem is not None:
            return _password_page(request, link, purpose, error=problem)
        try:
            await accounts.use_link(session, link, password, now)
        except LinkRefused as refused:
            return _problem_page(request, refused.problem, purpose)
        await session.commit()
    response = RedirectResponse("/parent", status_code=303)
    await start_session(request, response, link.guardian)
    # The link proved the address: this phone is known from now on (see `signin`).
    signin.remember(request, response, "parent", accounts.normalize_email(link.guardian.email))
    return response


async def activate_page(request: Request) -> Response:
    return await _link_get(request, ACTIVATE)


async def activate_submit(request: Request) -> Response:
    return await _link_post(request, ACTIVATE)


async def reset_page(request: Request) -> Response:
    return await _link_get(request, RESET)


async def reset_submit(request: Request) -> Response:
    return await _link_post(request, RESET)


# -- "send me a link" (forgotten password, expired invitation) ---------------------------


def _forgot_page(
    request: Request,
    *,
    status_code: int = 200,
    sent: bool = False,
    email: str = "",
    error: str | None = None,
) -> Response:
    return page(
        request,
        "parent/forgot.html",
        status_code=status_code,
        sent=sent,
        sent_message=generic_sent_message(),
        email=email,
        error=error,
    )


async def forgot_page(request: Request) -> Response:
    return _forgot_page(request)


async def send_link(request: Request) -> Response:
    """POST /parent/forgot and /parent/activate/resend: the same answer for every address."""
    form = await csrf_form(request)
    email = accounts.normalize_email(str(form.get("email", "")))[:254]
    if "@" not in email:
        return _forgot_page(
            request, status_code=400, error=_("Enter the email address the daycare has for you.")
        )
    svc = services(request)
    now = svc.clock.now()
    checks = [
        (ratelimit.ip_key("link", client_address(request)), LINK_IP_LIMIT),
        (ratelimit.email_key("link", email), LINK_EMAIL_LIMIT),
    ]
    async with svc.db.session() as session:
        refused = await _limited(session, checks, now)
        if refused is not None:
            return _forgot_page(request, status_code=429, error=rate_limited_message(refused))
        for key, limit in checks:
            await ratelimit.record(session, key, limit.window, now)
        emails = await accounts.request_link(
            session, email, base_url=public_base_url(request), now=now
        )
        await session.commit()
    response = _forgot_page(request, sent=True)
    response.background = BackgroundTask(accounts.send_all, svc.mailer, emails)
    return response


# -- the demo outbox -----------------------------------------------------------------------


# -- staff side: invitations from /admin -----------------------------------------------------


routes: list[BaseRoute] = [
    Route("/parent/login", login_page, methods=["GET"]),
    Route("/parent/login", login_submit, methods=["POST"]),
    Route("/parent/logout", logout, methods=["POST"]),
    # Before /parent/activate/{token}: "resend" is not a token.
    Route("/parent/activate/resend", send_link, methods=["POST"]),
    Route("/parent/activate/{token}", activate_page, methods=["GET"]),
    Route("/parent/activate/{token}", activate_submit, methods=["POST"]),
    Route("/parent/forgot", forgot_page, methods=["GET"]),
    Route("/parent/forgot", send_link, methods=["POST"]),
    Route("/parent/reset/{token}", reset_page, methods=["GET"]),
    Route("/parent/reset/{token}", reset_submit, methods=["POST"]),
]
