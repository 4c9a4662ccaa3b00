"""Parents' accounts: invitations, one-time links (activate, reset), passwords.

A link is a random token sent by email; the database keeps only its SHA-256. A link works
once, until it expires; a newer link of the same kind voids the older ones. Every function
that creates a link returns the `Email` to send instead of sending it: the caller commits
first (the link must exist before anyone can click it), then sends (`send_all`). `invite`
does all three for the common case.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from ..core.clock import Clock
from ..core.db import Database
from ..core.mail import Mailer
from ..core.models import AccountToken, Guardian, GuardianSession, Organization
from ..core.security import hash_password, new_token, token_hash
from ..core.templating import render
from . import one_time_links

log = logging.getLogger(__name__)

ACTIVATE = "activate"
RESET = "reset"
ACTIVATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=2)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = one_time_links.MAX_PASSWORD_LENGTH

_LIFETIMES = {ACTIVATE: ACTIVATION_LIFETIME, RESET: RESET_LIFETIME}
_PATHS = {ACTIVATE: "/parent/activate/", RESET: "/parent/reset/"}


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str


class LinkProblem(StrEnum):
    UNKNOWN = "unknown"  # never issued, mistyped, or cut short by a mail program
    EXPIRED = "expired"  # too old, or replaced by a newer link
    USED = "used"


@dataclass(frozen=True)
class ValidLink:
    token: AccountToken
    guardian: Guardian
    organization: Organization


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def normalize_email(email: str) -> str:
    return email.strip().lower()


def link_url(base_url: str, purpose: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{_PATHS[purpose]}{token}"


# -- creating links -----------------------------------------------------------------------


async def _new_link(session: AsyncSession, guardian: Guardian, purpose: str, now: datetime) -> str:
    """A fresh token for `guardian`; unused older tokens of the same purpose stop working."""
    assert guardian.id is not None
    await session.execute(
        update(AccountToken)
        .where(
            col(AccountToken.guardian_id) == guardian.id,
            col(AccountToken.purpose) == purpose,
            col(AccountToken.used_at).is_(None),
            col(AccountToken.expires_at) > now,
        )
        .values(expires_at=now)
    )
    token = new_token()
    session.add(
        AccountToken(
            guardian_id=guardian.id,
            purpose=purpose,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + _LIFETIMES[purpose],
        )
    )
    await session.flush()
    return token


async def _organization_name(session: AsyncSession, guardian: Guardian) -> str:
    organization = await session.get(Organization, guardian.organization_id)
    return organization.name if organization is not None else "Relais"


async def create_invitation(
    session: AsyncSession, guardian: Guardian, *, base_url: str, now: datetime
) -> Email:
    """Add an activation link for `guardian` (older unused ones stop working) and return the
    invitation email. The caller commits, then sends it (`send_all`)."""
    token = await _new_link(session, guardian, ACTIVATE, now)
    inviter = None
    if guardian.invited_by_id is not None:
        inviter_row = await session.get(Guardian, guardian.invited_by_id)
        inviter = inviter_row.full_name if inviter_row is not None else None
    body = render(
        "email/invitation.txt",
        first_name=guardian.first_name,
        organization=await _organization_name(session, guardian),
        inviter=inviter,
        link=link_url(base_url, ACTIVATE, token),
        days=ACTIVATION_LIFETIME.days,
    )
    subject = "Relais — Activez votre compte / Activate your account"
    return Email(guardian.email, subject, body)


async def create_reset(
    session: AsyncSession, guardian: Guardian, *, base_url: str, now: datetime
) -> Email:
    """Add a password-reset link for `guardian` and return the email (caller commits, sends)."""
    token = await _new_link(session, guardian, RESET, now)
    body = render(
        "email/reset.txt",
        first_name=guardian.first_name,
        organization=await _organization_name(session, guardian),
        link=link_url(base_url, RESET, token),
        hours=int(RESET_LIFETIME.total_seconds() // 3600),
    )
    subject = "Relais — Nouveau mot de passe / New password"
    return Email(guardian.email, subject, body)


async def guardians_by_email(session: AsyncSession, email: str) -> list[Guardian]:
    """Every guardian row with this address (a parent may belong to two daycares)."""
    address = normalize_email(email)
    if not address:
        return []
    rows = await session.execute(
        select(Guardian)
        .where(func.lower(col(Guardian.email)) == address)
        .order_by(col(Guardian.id))
    )
    return list(rows.scalars().all())


async def request_link(
    session: AsyncSession, email: str, *, base_url: str, now: datetime
) -> list[Email]:
    """ "Send me a link" (forgotten password, expired invitation): an activation link to an
    invited guardian, a reset link to an active one; nothing for an unknown address. The
    caller shows the same answer in every case, commits, then sends."""
    emails = []
    for guardian in await guardians_by_email(session, email):
        if guardian.account_state == "active":
            emails.append(await create_reset(session, guardian, base_url=base_url, now=now))
        else:
            emails.append(await create_invitation(session, guardian, base_url=base_url, now=now))
    return emails


async def send_all(mailer: Mailer, emails: Iterable[Email]) -> None:
    """Send after the commit, and never let one failure reveal anything to the visitor: the
    failure is logged (the visitor has already been told "if an account exists…")."""
    for email in emails:
        try:
            await mailer.send(email.to, email.subject, email.body)
        except Exception:
            log.exception("could not send %r to %s", email.subject, email.to)


async def invite(
    db: Database, clock: Clock, mailer: Mailer, guardian_id: int, base_url: str
) -> bool:
    """Invite (or invite again) one guardian: a new activation link, older ones void, the email
    sent. False when there is no such guardian or no address. Mail errors propagate (the
    admin who pressed the button is told). The roster sync calls this for a new guardian or
    one whose email changed, after committing the roster."""
    async with db.session() as session:
        guardian = await session.get(Guardian, guardian_id)
        if guardian is None or not guardian.email.strip():
            return False
        email = await create_invitation(session, guardian, base_url=base_url, now=clock.now())
        await session.commit()
    await mailer.send(email.to, email.subject, email.body)
    return True


# -- using links ------------------------------------------------------------------------------


async def open_link(
    session: AsyncSession, token: str, purpose: str, now: datetime
) -> ValidLink | LinkProblem:
    """What a link leads to: its guardian, or why it does not work any more."""
    if not token or len(token) > 200:
        return LinkProblem.UNKNOWN
    row = (
        await session.execute(
            select(AccountToken, Guardian, Organization)
            .join(Guardian, col(Guardian.id) == col(AccountToken.guardian_id))
            .join(Organization, col(Organization.id) == col(Guardian.organization_id))
            .where(
                col(AccountToken.token_hash) == token_hash(token),
                col(AccountToken.purpose) == purpose,
            )
        )
    ).first()
    if row is None:
        return LinkProblem.UNKNOWN
    account_token, guardian, organization = row
    if account_token.used_at is not None:
        return LinkProblem.USED
    if account_token.expires_at <= now:
        return LinkProblem.EXPIRED
    return ValidLink(account_token, guardian, organization)


def password_problem(password: str, confirmation: str, email: str) -> str | None:
    """Why this new password cannot be used, in plain words (None: it can)."""
    return one_time_links.password_problem(password, confirmation, email, MIN_PASSWORD_LENGTH)


async def use_link(session: AsyncSession, link: ValidLink, password: str, now: datetime) -> None:
    """Set the password and activate the account, spending the link. Raises `LinkRefused` if
    the link was spent or replaced meanwhile (two taps, two tabs). Every other link of the
    guardian stops working and every other sign-in ends. The caller commits."""
    assert link.token.id is not None and link.guardian.id is not None
    if not await one_time_links.spend(
        session, AccountToken, col(AccountToken.guardian_id), link.token.id, link.guardian.id, now
    ):
        raise LinkRefused(LinkProblem.USED)
    await session.execute(
        delete(GuardianSession).where(col(GuardianSession.guardian_id) == link.guardian.id)
    )
    guardian = await session.get(Guardian, link.guardian.id)
    assert guardian is not None
    # argon2 takes tens of milliseconds on purpose: keep it off the event loop.
    guardian.password_hash = await run_in_threadpool(hash_password, password)
    guardian.account_state = "active"
    session.add(guardian)
