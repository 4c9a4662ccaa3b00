"""Parents' accounts: invitations, one-time links (activate, reset), passwords.

A link is a random token sent by email; the database keeps only its SHA-256. A link works
once, until it expires; a newer link of the same kind voids the older ones. Every function
that creates a link returns the `Email` to send instead of sending it: the caller commits
first (the link must exist before anyone can click it), then sends (`send_all`). `invite`
does all three for the common case.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from ..core.clock import Clock
from ..core.db import Database
from ..core.mail import Mailer, delivered
from ..core.models import AccountKind, Guardian, OneTimeLink, Organization, SignInSession
from ..core.security import hash_password
from ..core.templating import render
from . import one_time_links
from .one_time_links import LinkProblem, LinkRefused

ACTIVATE = "activate"
RESET = "reset"
ACTIVATION_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(hours=2)
_LIFETIMES = {ACTIVATE: ACTIVATION_LIFETIME, RESET: RESET_LIFETIME}
_PATHS = {ACTIVATE: "/parent/activate/", RESET: "/parent/reset/"}


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str


@dataclass(frozen=True)
class ValidLink:
    token: OneTimeLink
    guardian: Guardian
    organization: Organization


def normalize_email(email: str) -> str:
    return email.strip().lower()


def link_url(base_url: str, purpose: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{_PATHS[purpose]}{token}"


# -- creating links -----------------------------------------------------------------------


async def _new_link(session: AsyncSession, guardian: Guardian, purpose: str, now: datetime) -> str:
    """A fresh token for `guardian`; unused older tokens of the same purpose stop working."""
    assert guardian.id is not None
    return await one_time_links.issue(
        session, AccountKind.PARENT, guardian.id, purpose, _LIFETIMES[purpose], now
    )


async def _organization_name(session: AsyncSession, guardian: Guardian) -> str:
    organization = await session.get(Organization, guardian.organization_id)
    return organization.name if organization is not None else "Relais"


async def create_invitation(
    session: AsyncSession, guardian: Guardian, *, base_url: str, now: datetime
) -> Email:
    """Add an activation link for `guardian` (older unused ones stop working), note the
    address it goes to (`invited_email`: the roster sync re-invites when the address changes)
    and return the invitation email. The caller commits, then sends it (`send_all`)."""
    token = await _new_link(session, guardian, ACTIVATE, now)
    guardian.invited_email = guardian.email.strip()
    session.add(guardian)
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
        await delivered(mailer, email.to, email.subject, email.body)


async def invite(
    db: Database, clock: Clock, mailer: Mailer, guardian_id: int, base_url: str
) -> bool:
    """Invite (or invite again) one guardian: a new activation link, older ones void, the email
    sent. False when nothing was sent: no such guardian, no address, or the mail server did not
    take it (`delivered`: the one who pressed the button is told)."""
    async with db.session() as session:
        guardian = await session.get(Guardian, guardian_id)
        if guardian is None or not guardian.email.strip():
            return False
        email = await create_invitation(session, guardian, base_url=base_url, now=clock.now())
        await session.commit()
    return await delivered(mailer, email.to, email.subject, email.body)


# -- using links ------------------------------------------------------------------------------


async def open_link(
    session: AsyncSession, token: str, purpose: str, now: datetime
) -> ValidLink | LinkProblem:
    """What a link leads to: its guardian, or why it does not work any more."""
    link = await one_time_links.find(session, AccountKind.PARENT, token, purpose, now)
    if isinstance(link, LinkProblem):
        return link
    guardian = await session.get(Guardian, link.account_id)
    organization = await session.get(Organization, guardian.organization_id) if guardian else None
    if guardian is None or organization is None:
        return LinkProblem.UNKNOWN
    return ValidLink(link, guardian, organization)


async def last_invited(
    session: AsyncSession, guardian_ids: Sequence[int | None]
) -> dict[int, datetime]:
    """When each guardian's latest invitation (activation link) was sent."""
    return await one_time_links.last_issued(session, AccountKind.PARENT, guardian_ids, ACTIVATE)


async def use_link(session: AsyncSession, link: ValidLink, password: str, now: datetime) -> None:
    """Set the password and activate the account, spending the link. Raises `LinkRefused` if
    the link was spent or replaced meanwhile (two taps, two tabs). Every other link of the
    guardian stops working and every other sign-in ends. The caller commits."""
    assert link.guardian.id is not None
    if not await one_time_links.spend(session, link.token, now):
        raise LinkRefused(LinkProblem.USED)
    await session.execute(
        delete(SignInSession).where(
            col(SignInSession.kind) == AccountKind.PARENT,
            col(SignInSession.account_id) == link.guardian.id,
        )
    )
    guardian = await session.get(Guardian, link.guardian.id)
    assert guardian is not None
    # argon2 takes tens of milliseconds on purpose: keep it off the event loop.
    guardian.password_hash = await run_in_threadpool(hash_password, password)
    guardian.account_state = "active"
    session.add(guardian)
