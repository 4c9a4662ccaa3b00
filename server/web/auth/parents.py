"""Parents' one-time links: invitation (activation) links, forgotten passwords (reset), and
"send me a link". Signing in with a password: `login`.

No answer here tells whether an email address has an account: "send me a link" always
answers the same sentence. Links are sent after the answer (a background task), so the time
taken does not tell either.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...accounts import guardians as accounts
from ...accounts.guardians import ACTIVATE, RESET, ValidLink
from ...accounts.one_time_links import LinkProblem, LinkRefused
from ...accounts.passwords import MIN_PASSWORD_LENGTH, password_problem
from ...core import ratelimit
from ...core.i18n import _
from ...core.ratelimit import (
    LINK_EMAIL_LIMIT,
    LINK_IP_LIMIT,
    Limit,
    RateDecision,
    rate_limited_message,
)
from .. import signin
from ..context import csrf_form, page, public_base_url, services
from ..routing import get, post
from ..sessions import PARENT
from ..signin import client_address

log = logging.getLogger(__name__)


_TEMPLATES = {ACTIVATE: "auth/parent_activate.html", RESET: "auth/parent_reset.html"}


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
        "auth/parent_link_problem.html",
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
        min_length=MIN_PASSWORD_LENGTH,
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
    password, confirmation = await signin.chosen_password(request)
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        link = await accounts.open_link(session, request.path_params["token"], purpose, now)
        if isinstance(link, LinkProblem):
            return _problem_page(request, link, purpose)
        problem = password_problem(password, confirmation, link.guardian.email)
        if problem is not None:
            return _password_page(request, link, purpose, error=problem.message)
        try:
            await accounts.use_link(session, link, password, now)
        except LinkRefused as refused:
            return _problem_page(request, refused.problem, purpose)
        await session.commit()
    assert link.guardian.id is not None
    # The link proved the address: this phone is known from now on (see `signin`).
    email = accounts.normalize_email(link.guardian.email)
    return await signin.signed_in(request, "/parent", PARENT, link.guardian.id, "parent", email)


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
        "auth/parent_forgot.html",
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


routes: list[BaseRoute] = [
    # Before /parent/activate/{token}: "resend" is not a token.
    post("/parent/activate/resend", send_link, "auth.parent_resend"),
    get("/parent/activate/{token}", activate_page),
    post("/parent/activate/{token}", activate_submit),
    get("/parent/forgot", forgot_page, "auth.parent_forgot"),
    post("/parent/forgot", send_link),
    get("/parent/reset/{token}", reset_page),
    post("/parent/reset/{token}", reset_submit),
]
