"""Parents' sign-in sessions: server-side rows like the staff's, under their own cookie so a
staff tablet and a parent's phone never share an identity."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlmodel import col
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from ..accounts.authz import GuardianPrincipal
from ..core.models import Guardian, GuardianSession
from ..core.security import new_token, token_hash
from .context import PARENT_COOKIE as PARENT_COOKIE
from .context import is_secure, services
from .sessions import session_owner

# Parents stay signed in on their phone: announcing must take two taps, not a password.
PARENT_SESSION_LIFETIME = timedelta(days=60)


class ParentSignInRequired(Exception):
    """Answered by a redirect to /parent/login."""


async def guardian_principal(conn: HTTPConnection) -> GuardianPrincipal | None:
    cached = conn.scope["state"].get("guardian")
    if cached is not None:
        return cached if isinstance(cached, GuardianPrincipal) else None
    principal: GuardianPrincipal | None = None
    found = await session_owner(
        conn,
        PARENT_COOKIE,
        GuardianSession,
        Guardian,
        col(GuardianSession.guardian_id),
        lambda guardian: guardian.account_state == "active",
    )
    if found is not None:
        hashed, guardian = found
        assert guardian.id is not None
        principal = GuardianPrincipal(
            guardian_id=guardian.id,
            organization_id=guardian.organization_id,
            name=guardian.full_name,
            email=guardian.email,
            kind=guardian.kind,
            session_hash=hashed,
        )
    conn.scope["state"]["guardian"] = principal if principal is not None else False
    return principal


async def require_guardian(conn: HTTPConnection) -> GuardianPrincipal:
    principal = await guardian_principal(conn)
    if principal is None:
        raise ParentSignInRequired()
    return principal


async def start_session(request: Request, response: Response, guardian: Guardian) -> None:
    """Sign the guardian in on this device (after a password check or an activation)."""
    svc = services(request)
    token = new_token()
    now = svc.clock.now()
    assert guardian.id is not None
    async with svc.db.session() as session:
        session.add(
            GuardianSession(
                token_hash=token_hash(token),
                guardian_id=guardian.id,
                created_at=now,
                expires_at=now + PARENT_SESSION_LIFETIME,
                user_agent=request.headers.get("user-agent", "")[:300],
            )
        )
        await session.commit()
    response.set_cookie(
        PARENT_COOKIE,
        token,
        max_age=int(PARENT_SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


async def end_session(request: Request, response: Response) -> None:
    principal = await guardian_principal(request)
    if principal is not None:
        await end_guardian_sessions(request, principal.guardian_id, [principal.session_hash])
    response.delete_cookie(PARENT_COOKIE)


async def end_guardian_sessions(
    conn: HTTPConnection, guardian_id: int, hashes: list[str] | None = None
) -> None:
    """Sign a guardian out (of one session, or all when `hashes` is None), open live pages
    included, on every worker."""
    svc = services(conn)
    async with svc.db.session() as session:
        query = select(col(GuardianSession.token_hash)).where(
            col(GuardianSession.guardian_id) == guardian_id
        )
        if hashes is not None:
            query = query.where(col(GuardianSession.token_hash).in_(hashes))
        ended = list((await session.execute(query)).scalars())
        await session.execute(
            delete(GuardianSession).where(col(GuardianSession.token_hash).in_(ended))
        )
        await session.commit()
    if ended:
        await svc.broker.publish_control({"type": "sessions_ended", "sessions": ended})
