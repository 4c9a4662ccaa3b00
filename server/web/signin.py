"""Signing in with a password, the one routine behind the three sign-in pages (staff /login,
parents /parent/login, centre accounts /portal/login), and its throttling: growing delays
that stop password guessing without letting a stranger lock a person out.

- A browser that never signed in to the account typed is slowed per account and per network
  address: a few free failures, then each failure doubles the wait (1, 2, 4, 8, then at most
  15 minutes). The page says when to try again.
- A browser that did sign in to that account before carries a signed "known device" entry
  for it (a cookie; the account is not readable in it). Its attempts are counted on their
  own: a stranger's failures, however many and from wherever, do not slow it at all.
- A refused attempt checks no password and counts nothing: waiting is the only way on.
- A success forgets the failures counted for that browser and account.

A person on a new phone while someone hammers their account waits at most the cap, or uses
"forgot password": the emailed link signs them in, and their phone becomes known.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..core import ratelimit
from ..core.ratelimit import (
    SIGN_IN_ACCOUNT,
    SIGN_IN_ADDRESS,
    SIGN_IN_DEVICE,
    Backoff,
    RateDecision,
)
from ..core.security import new_token, sign, signature_matches, verify_password
from .context import csrf_form, is_secure, services
from .sessions import Kind, start_session

KNOWN_DEVICE_LIFETIME = timedelta(days=365)
# A shared tablet remembers this many accounts; the oldest is forgotten first.
KNOWN_ACCOUNTS_PER_DEVICE = 5


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def device_cookie(realm: str) -> str:
    return f"relais_known_{realm}"


def _entry_message(realm: str, email: str, nonce: str) -> str:
    return f"known-device|{realm}|{email}|{nonce}"


def _entries(request: Request, realm: str) -> list[tuple[str, str]]:
    raw = request.cookies.get(device_cookie(realm), "")
    entries = []
    for item in raw.split("~")[:KNOWN_ACCOUNTS_PER_DEVICE]:
        nonce, _dot, signature = item.partition(".")
        if nonce and signature:
            entries.append((nonce, signature))
    return entries


@dataclass(frozen=True)
class Realm:
    """A sign-in page: the kind of account it signs in, and what differs between them."""

    # Names the failure counters and the known-device cookie: staff | parent | portal.
    name: str
    kind: Kind[Any, Any]
    # The accounts with this (normalized) address that may sign in with a password, as
    # (id, password hash): an address may have an account in two organizations.
    accounts: Callable[[AsyncSession, str], Awaitable[Sequence[tuple[int, str]]]]
    # The one message for every failure: no probing which addresses have an account.
    wrong: Callable[[], str]


async def check_password(
    request: Request, realm: Realm, email: str, password: str
) -> int | RateDecision | None:
    """The account signed in to (its id), or the wait still running (nothing checked), or
    None: no account with this address and password (one more failure counted)."""
    svc = services(request)
    now = svc.clock.now()
    attempt = start(request, realm.name, email)
    async with svc.db.session() as session:
        wait = await refused(session, attempt, now)
        if wait is not None:
            return wait
        candidates: Sequence[tuple[int, str] | None] = await realm.accounts(session, email)
        signed_in: int | None = None
        # With no candidate, check against a dummy hash anyway: same time, nothing learned.
        for candidate in candidates or [None]:
            hashed = candidate[1] if candidate is not None else None
            if await run_in_threadpool(verify_password, hashed, password) and candidate:
                signed_in = candidate[0]
                break
        if signed_in is None:
            await failed(session, attempt, now)
        else:
            await succeeded(session, attempt)
        await session.commit()
    return signed_in


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt: which counters apply, and whether the browser is known."""

    realm: str
    email: str
    checks: tuple[tuple[str, Backoff], ...]
    known_device: str | None


def start(request: Request, realm: str, email: str) -> Attempt:
    secret = services(request).settings.secret_key
    known = next(
        (
            nonce
            for nonce, signature in _entries(request, realm)
            if signature_matches(secret, _entry_message(realm, email, nonce), signature)
        ),
        None,
    )
    if known is not None:
        checks: tuple[tuple[str, Backoff], ...] = ((f"{realm}:device:{known}", SIGN_IN_DEVICE),)
    else:
        checks = (
            (ratelimit.email_key(realm, email), SIGN_IN_ACCOUNT),
            (ratelimit.ip_key(realm, client_address(request)), SIGN_IN_ADDRESS),
        )
    return Attempt(realm, email, checks, known)


async def refused(session: AsyncSession, attempt: Attempt, now: datetime) -> RateDecision | None:
    """The longest wait still running for this attempt's counters; None: go ahead."""
    waits = [
        await ratelimit.backoff_wait(session, key, backoff, now) for key, backoff in attempt.checks
    ]
    decision = ratelimit.decision_after(max(waits))
    return None if decision.allowed else decision


async def failed(session: AsyncSession, attempt: Attempt, now: datetime) -> None:
    """Count one failure on each counter (the caller commits)."""
    for key, backoff in attempt.checks:
        await ratelimit.record(session, key, backoff.memory, now)


async def succeeded(session: AsyncSession, attempt: Attempt) -> None:
    """Forget this browser's failures for this account (not the address's: behind one NAT,
    one person's success says nothing of another's guessing). The caller commits."""
    for key, _backoff in attempt.checks:
        if ":ip:" not in key:
            await ratelimit.forget(session, key)


def remember(request: Request, response: Response, realm: str, email: str) -> None:
    """Mark this browser as known for the account it just signed in to (by password, or by
    a link from an email)."""
    secret = services(request).settings.secret_key
    mine = [
        (n, s)
        for n, s in _entries(request, realm)
        if signature_matches(secret, _entry_message(realm, email, n), s)
    ]
    nonce = mine[0][0] if mine else new_token(12)
    entry = f"{nonce}.{sign(secret, _entry_message(realm, email, nonce))}"
    others = [f"{n}.{s}" for n, s in _entries(request, realm) if (n, s) not in mine]
    response.set_cookie(
        device_cookie(realm),
        "~".join([entry, *others][:KNOWN_ACCOUNTS_PER_DEVICE]),
        max_age=int(KNOWN_DEVICE_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )


async def signed_in(
    request: Request, target: str, kind: Kind[Any, Any], account_id: int, realm: str, email: str
) -> Response:
    """The answer to a sign-in, by password or by a link from an email: to `target`, with a
    new session for the account, and this browser known for it from now on (`remember`)."""
    response = RedirectResponse(target, status_code=303)
    await start_session(request, response, kind, account_id)
    remember(request, response, realm, email)
    return response


async def chosen_password(request: Request) -> tuple[str, str]:
    """The password a one-time link's page sets, and its confirmation (CSRF token checked)."""
    form = await csrf_form(request)
    return str(form.get("password", "")), str(form.get("password_confirmation", ""))


def too_many(response: Response, decision: RateDecision) -> Response:
    """A 429 page: the template says when to try again, the header says it to machines."""
    response.status_code = 429
    response.headers["Retry-After"] = str(decision.retry_after * 60)
    return response
