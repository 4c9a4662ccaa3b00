"""The three sign-in pages and their sign-outs, one handler each: staff (/login), parents
(/parent/login) and centre accounts (/portal/login). One template (auth/login.html), one
rate-limited password check (`signin.check_password`), one session start (`sessions`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute

from ...accounts import centres, guardians
from ...accounts import staff as staff_accounts
from ...accounts.guardians import normalize_email
from ...accounts.passwords import MAX_PASSWORD_LENGTH
from ...core.i18n import _
from ...core.ratelimit import RateDecision, rate_limited_message
from .. import signin
from ..context import csrf_form, page
from ..routing import get, post
from ..sessions import CENTRE, PARENT, STAFF, principal, sign_out
from ..signin import Realm


def safe_next(target: str | None) -> str:
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


async def _staff(session: AsyncSession, email: str) -> list[tuple[int, str]]:
    return [
        (user.id, user.password_hash)
        for user in await staff_accounts.users_by_email(session, email)
        if user.id is not None and user.active and staff_accounts.has_password(user)
    ]


async def _parents(session: AsyncSession, email: str) -> list[tuple[int, str]]:
    return [
        (g.id, g.password_hash)
        for g in await guardians.guardians_by_email(session, email)
        if g.id is not None and g.account_state == "active" and g.password_hash
    ]


async def _centres(session: AsyncSession, email: str) -> list[tuple[int, str]]:
    return [
        (account.id, account.password_hash)
        for account in await centres.accounts_by_email(session, email)
        if account.id is not None
    ]


@dataclass(frozen=True)
class Page:
    realm: Realm
    # Where a signed-in account goes, given the ?next= asked for (only staff keep it).
    home: Callable[[str], str]
    path: str
    # The route names of the page and of its sign-out (the same path, "logout").
    login_route: str
    logout_route: str


PAGES = (
    Page(
        Realm(
            "staff",
            STAFF,
            _staff,
            lambda: _("Wrong email or password, or the account is disabled."),
        ),
        safe_next,
        "/login",
        STAFF.login_route,
        "auth.logout",
    ),
    Page(
        Realm("parent", PARENT, _parents, lambda: _("Wrong email or password.")),
        lambda _next: "/parent",
        "/parent/login",
        PARENT.login_route,
        "auth.parent_logout",
    ),
    Page(
        Realm("portal", CENTRE, _centres, lambda: _("Wrong email or password.")),
        lambda _next: "/portal/profile",
        "/portal/login",
        CENTRE.login_route,
        "auth.portal_logout",
    ),
)


def _login_page(
    request: Request,
    login: Page,
    *,
    status_code: int = 200,
    next: str = "",
    email: str = "",
    error: str | None = None,
) -> Response:
    return page(
        request,
        "auth/login.html",
        status_code=status_code,
        realm=login.realm.name,
        action=request.app.url_path_for(login.login_route),
        next=next,
        email=email,
        error=error,
    )


def _returns_to_page(login: Page) -> bool:
    return login.realm.kind.returns_to_page


async def login_page(request: Request, login: Page) -> Response:
    asked = request.query_params.get("next", "") if _returns_to_page(login) else ""
    if await principal(request, login.realm.kind) is not None:
        return RedirectResponse(login.home(asked), status_code=303)
    return _login_page(request, login, next=asked)


async def login_submit(request: Request, login: Page) -> Response:
    form = await csrf_form(request)
    email = normalize_email(str(form.get("email", "")))[:254]
    # One character more than any password may have: a longer one simply does not match.
    password = str(form.get("password", ""))[: MAX_PASSWORD_LENGTH + 1]
    target = login.home(str(form.get("next", "")))
    next = target if _returns_to_page(login) else ""
    outcome = await signin.check_password(request, login.realm, email, password)
    if isinstance(outcome, RateDecision):
        wait = _login_page(
            request, login, next=next, email=email, error=rate_limited_message(outcome)
        )
        return signin.too_many(wait, outcome)
    if outcome is None:
        return _login_page(
            request, login, status_code=400, next=next, email=email, error=login.realm.wrong()
        )
    return await signin.signed_in(
        request, target, login.realm.kind, outcome, login.realm.name, email
    )


async def logout(request: Request, login: Page) -> Response:
    await csrf_form(request)
    response = RedirectResponse(request.app.url_path_for(login.login_route), status_code=303)
    await sign_out(request, response, login.realm.kind)
    return response


def _bound(
    handler: Callable[[Request, Page], Awaitable[Response]], login: Page
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await handler(request, login)

    return endpoint


routes: list[BaseRoute] = [
    route
    for login in PAGES
    for route in (
        get(login.path, _bound(login_page, login), login.login_route),
        post(login.path, _bound(login_submit, login)),
        post(login.path.replace("login", "logout"), _bound(logout, login), login.logout_route),
    )
]
