"""Who is signed in, for the three kinds of accounts (staff, parents, centre accounts), and
signing in and out: one mechanism.

A session is a server-side row (`SignInSession`): the cookie holds a random token, the table
its SHA-256, the kind and the account, and an expiry. Each kind keeps its own cookie (a staff
tablet and a parent's phone never share an identity), its lifetime and its sign-in page.
Signing out, or disabling an account, deletes the rows: the session ends for real, open live
pages included (the "sessions_ended" broadcast closes their sockets on every worker).

Plumbing at the web root: every audience's package imports it; it imports none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from ..accounts import sessions as stored_sessions
from ..accounts.authz import CenterPrincipal, GuardianPrincipal, StaffPrincipal
from ..core.i18n import _
from ..core.models import (
    AccountKind,
    CenterAccount,
    Guardian,
    Installation,
    Role,
    StaffUser,
)
from ..core.security import new_token, token_hash
from .context import (
    PARENT_COOKIE,
    PORTAL_COOKIE,
    SESSION_COOKIE,
    is_htmx,
    is_secure,
    services,
    wants_json,
)

Account = TypeVar("Account", bound=SQLModel)
P = TypeVar("P")


@dataclass(frozen=True)
class Kind(Generic[Account, P]):
    """One kind of account that signs in, and what differs between the kinds."""

    name: AccountKind
    cookie: str
    # The sign-in page's route name.
    login_route: str
    account: type[Account]
    # Who is signed in, from the account row (and the session's hash, to end it later).
    principal: Callable[[AsyncSession, Account, str], Awaitable[P]]
    lifetime: timedelta = timedelta(hours=12)
    # Staff come back to the page they asked for (?next=).
    returns_to_page: bool = False
    # Whether the account may still sign in (disabled staff, revoked parents may not).
    usable: Callable[[Account], bool] = lambda _account: True


async def _staff(_session: AsyncSession, user: StaffUser, hashed: str) -> StaffPrincipal:
    assert user.id is not None
    return StaffPrincipal(
        user_id=user.id,
        organization_id=user.organization_id,
        role=Role(user.role),
        name=user.display_name,
        email=user.email,
        installation_id=None if user.role == Role.ADMIN else user.installation_id,
        home_group_id=user.home_group_id,
        session_hash=hashed,
    )


async def _guardian(_session: AsyncSession, guardian: Guardian, hashed: str) -> GuardianPrincipal:
    assert guardian.id is not None
    return GuardianPrincipal(
        guardian_id=guardian.id,
        organization_id=guardian.organization_id,
        name=guardian.full_name,
        email=guardian.email,
        kind=guardian.kind,
        session_hash=hashed,
    )


async def _centre(session: AsyncSession, account: CenterAccount, hashed: str) -> CenterPrincipal:
    assert account.id is not None
    installation = await session.get(Installation, account.installation_id)
    assert installation is not None
    return CenterPrincipal(
        center_account_id=account.id,
        organization_id=installation.organization_id,
        installation_id=account.installation_id,
        email=account.email,
        session_hash=hashed,
    )


STAFF = Kind(
    AccountKind.STAFF,
    SESSION_COOKIE,
    "auth.login",
    StaffUser,
    _staff,
    returns_to_page=True,
    usable=lambda user: user.active,
)
PARENT = Kind(
    AccountKind.PARENT,
    PARENT_COOKIE,
    "auth.parent_login",
    Guardian,
    _guardian,
    # Parents stay signed in on their phone: announcing must take two taps, not a password.
    lifetime=timedelta(days=60),
    usable=lambda guardian: guardian.account_state == "active",
)
CENTRE = Kind(AccountKind.CENTRE, PORTAL_COOKIE, "auth.portal_login", CenterAccount, _centre)
KINDS: dict[str, Kind[Any, Any]] = {kind.name: kind for kind in (STAFF, PARENT, CENTRE)}


# -- who is signed in --------------------------------------------------------------------


async def principal(conn: HTTPConnection, kind: Kind[Account, P]) -> P | None:
    """Who of this kind is signed in on this browser: None when there is no session, it
    expired, or its account can no longer sign in (disabled, revoked) — in those two cases the
    row is deleted, so the session ends for good. Asked once per request (kept in its scope)."""
    state = conn.scope["state"]
    cached = state.get(kind.name)
    if cached is not None:
        return cached or None
    found: P | None = None
    token = conn.cookies.get(kind.cookie)
    if token:
        svc = services(conn)
        hashed = token_hash(token)
        async with svc.db.session() as session:
            row = await stored_sessions.find(session, hashed, kind.name, kind.account)
            if row is not None:
                signed_in, account = row
                if signed_in.expires_at <= svc.clock.now() or not kind.usable(account):
                    await stored_sessions.forget(session, hashed)
                    await session.commit()
                else:
                    found = await kind.principal(session, account, hashed)
    state[kind.name] = found if found is not None else False
    return found


class SignInRequired(Exception):
    """Raised by routes that need a kind of account; answered with that kind's sign-in page
    (`sign_in_required`)."""

    def __init__(self, kind: Kind[Any, Any]) -> None:
        super().__init__(kind.name)
        self.kind = kind


async def require(conn: HTTPConnection, kind: Kind[Account, P]) -> P:
    found = await principal(conn, kind)
    if found is None:
        raise SignInRequired(kind)
    return found


async def sign_in_required(request: Request, exc: Exception) -> Response:
    """To the kind's sign-in page; staff come back to the page they asked for."""
    assert isinstance(exc, SignInRequired)
    login = request.app.url_path_for(exc.kind.login_route)
    if wants_json(request):
        return JSONResponse({"detail": _("Sign in first.")}, status_code=401)
    if is_htmx(request):
        return Response(status_code=401, headers={"HX-Redirect": str(login)})
    if exc.kind.returns_to_page:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        login = f"{login}?{urlencode({'next': target})}"
    return RedirectResponse(login, status_code=303)


# The routes' usual questions, one line each.


async def staff_principal(conn: HTTPConnection) -> StaffPrincipal | None:
    return await principal(conn, STAFF)


async def guardian_principal(conn: HTTPConnection) -> GuardianPrincipal | None:
    return await principal(conn, PARENT)


async def center_principal(conn: HTTPConnection) -> CenterPrincipal | None:
    return await principal(conn, CENTRE)


async def require_staff(conn: HTTPConnection) -> StaffPrincipal:
    return await require(conn, STAFF)


async def require_admin(conn: HTTPConnection) -> StaffPrincipal:
    found = await require(conn, STAFF)
    if not found.is_admin:
        raise HTTPException(403, _("This page is for the daycare's administrators."))
    return found


async def require_guardian(conn: HTTPConnection) -> GuardianPrincipal:
    return await require(conn, PARENT)


async def require_center(conn: HTTPConnection) -> CenterPrincipal:
    return await require(conn, CENTRE)


# -- signing in and out ------------------------------------------------------------------


async def start_session(
    request: Request, response: Response, kind: Kind[Any, Any], account_id: int
) -> None:
    """Sign the account in on this browser (after a password check, or a link from an email
    that proved the address): a new session row, its token in the kind's cookie."""
    svc = services(request)
    token = new_token()
    now = svc.clock.now()
    async with svc.db.session() as session:
        stored_sessions.add(
            session,
            token_hash(token),
            kind.name,
            account_id,
            now=now,
            lifetime=kind.lifetime,
            user_agent=request.headers.get("user-agent", ""),
        )
        await session.commit()
    response.set_cookie(
        kind.cookie,
        token,
        max_age=int(kind.lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


async def end_sessions(
    conn: HTTPConnection,
    kind: Kind[Any, Any],
    account_id: int,
    hashes: Collection[str] | None = None,
) -> None:
    """Sign an account out (of the sessions in `hashes`, or of all), open live pages
    included, on every worker."""
    svc = services(conn)
    async with svc.db.session() as session:
        ended = await stored_sessions.end(session, kind.name, account_id, hashes)
        await session.commit()
    if ended:
        await svc.broker.publish_control({"type": "sessions_ended", "sessions": ended})


async def sign_out(request: Request, response: Response, kind: Kind[Any, Any]) -> None:
    """End this browser's session of this kind and drop its cookie."""
    found = await principal(request, kind)
    if found is not None:
        await end_sessions(request, kind, found.account_id, [found.session_hash])
    response.delete_cookie(kind.cookie)


async def end_other_sessions(
    session: AsyncSession, kind: Kind[Any, Any], account_id: int, keep: str
) -> None:
    """In the caller's transaction: the account's sessions but `keep` end (a new password
    signs the other browsers out). Their open pages notice at the hub's next check."""
    await stored_sessions.end(session, kind.name, account_id, keep=keep)
