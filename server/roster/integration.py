"""The integration with the pickup side (seed: Param → Intégrations, "Synchroniser les données").

- `activate`: the organization turns the integration on (a confirmation email to the admin).
- Per installation, a centre account (`CenterAccount`) links it to the pickup side: either an
  existing account, checked by email and password (`link_existing`), or a new one
  (`create_account`). The link is by installation, never by password: changing the centre
  account's password later does not cut it (the seed's product breaks there).
- `status_of`: the light per installation — the link's real state: green when the installation
  has its centre account, red ("Not configured.") otherwise. A failed attempt in a form (a typo
  in the password) is the form's error, shown beside the form; it never turns a working link red.
- The roster sync (`start_sync` / `run_sync`): invites the guardians of the pickup-enabled
  children who never got an invitation, re-invites those whose address changed since, and
  counts the children that are not on the parent side. Idempotent: a second run sends nothing.
  A guardian sent an activation link in the last 24 hours (by the roster import, the parents'
  page or a sync) is left alone and counted apart: a new link would void the one they have.

Every function that writes returns the emails to send; callers commit first, then send.
Errors are stored as English source strings and translated where they are shown.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.concurrency import run_in_threadpool

from ..accounts.guardians import (
    Email,
    create_invitation,
    last_invited,
    normalize_email,
    send_all,
)
from ..accounts.passwords import MAX_PASSWORD_LENGTH, password_problem
from ..core.collation import sort_by_name
from ..core.db import Database
from ..core.i18n import _
from ..core.mail import Mailer
from ..core.models import (
    CenterAccount,
    Child,
    ChildGuardian,
    Guardian,
    Installation,
    Organization,
    SyncJob,
)
from ..core.security import hash_password, verify_password
from ..core.templating import render

log = logging.getLogger(__name__)

SYNC_BATCH = 50
# A guardian invited this recently is not invited again by a sync.
RECENT_INVITATION = timedelta(hours=24)

# Why a form or a link failed (English source text; the page translates it).
WRONG_CREDENTIALS = "Wrong email or password."
OTHER_INSTALLATION = "This account belongs to another installation."
NOT_CONFIGURED = "Not configured."


def problem_text(problem: str) -> str:
    """A stored reason, in the visitor's language."""
    texts = {
        WRONG_CREDENTIALS: _("Wrong email or password."),
        OTHER_INSTALLATION: _("This account belongs to another installation."),
        NOT_CONFIGURED: _("Not configured."),
    }
    return texts.get(problem, problem)


_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# -- activation -------------------------------------------------------------------------------


async def activate(
    session: AsyncSession, organization_id: int, *, admin_email: str, now: datetime
) -> list[Email]:
    """Record the activation (once) and return the confirmation email to the acting admin.
    Activating again sends nothing. The caller commits, then sends."""
    organization = await session.get(Organization, organization_id)
    assert organization is not None
    if organization.integration_activated_at is not None:
        return []
    organization.integration_activated_at = now
    session.add(organization)
    body = render("email/integration_activated.txt", organization=organization.name)
    subject = "Relais — Intégration activée / Integration activated"
    return [Email(admin_email, subject, body)]


# -- the light per installation -----------------------------------------------------------------


@dataclass(frozen=True)
class LinkStatus:
    installation: Installation
    account_email: str | None
    # None: green (linked). Otherwise why not, as an English source string.
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def installations_of(session: AsyncSession, organization_id: int) -> list[Installation]:
    rows = await session.execute(
        select(Installation)
        .where(col(Installation.organization_id) == organization_id)
        .order_by(col(Installation.id))
    )
    return sort_by_name(rows.scalars().all(), key=lambda installation: installation.name)


async def installation_of(
    session: AsyncSession, organization_id: int, installation_id: int
) -> Installation | None:
    """The installation, only if it belongs to this organization."""
    installation = await session.get(Installation, installation_id)
    if installation is None or installation.organization_id != organization_id:
        return None
    return installation


async def account_of(session: AsyncSession, installation_id: int) -> CenterAccount | None:
    return (
        await session.execute(
            select(CenterAccount).where(col(CenterAccount.installation_id) == installation_id)
        )
    ).scalar_one_or_none()


async def status_of(session: AsyncSession, installation: Installation) -> LinkStatus:
    """The link as it is: its centre account, or none. Never the last form's outcome (the
    column `Installation.integration_error` that once held it is no longer read)."""
    assert installation.id is not None
    account = await account_of(session, installation.id)
    problem = NOT_CONFIGURED if account is None else None
    return LinkStatus(installation, account.email if account else None, problem)


async def statuses(session: AsyncSession, organization_id: int) -> list[LinkStatus]:
    return [
        await status_of(session, installation)
        for installation in await installations_of(session, organization_id)
    ]


# -- configuring: an existing account -----------------------------------------------------------


async def _account_by_email(
    session: AsyncSession, organization_id: int, email: str
) -> CenterAccount | None:
    """The organization's centre account with this address. Only this organization's: an
    administrator must learn nothing of another organization's accounts, not even that an
    address has one (and cannot try passwords on them)."""
    return (
        (
            await session.execute(
                select(CenterAccount)
                .join(Installation, col(Installation.id) == col(CenterAccount.installation_id))
                .where(
                    col(Installation.organization_id) == organization_id,
                    func.lower(col(CenterAccount.email)) == normalize_email(email),
                )
                .order_by(col(CenterAccount.id))
            )
        )
        .scalars()
        .first()
    )


async def link_existing(
    session: AsyncSession, installation: Installation, email: str, password: str
) -> str | None:
    """ "J'ai déjà un compte": check the account's email and password, among the
    organization's own centre accounts. Right: None (the link is confirmed). Wrong: the reason,
    which the form shows; nothing changes, and the light keeps showing the link's real state.
    The caller counts failures (web/admin/integrations.py)."""
    account = (
        await _account_by_email(session, installation.organization_id, email)
        if email.strip()
        else None
    )
    matches = await run_in_threadpool(
        verify_password, account.password_hash if account else None, password[:MAX_PASSWORD_LENGTH]
    )
    if account is None or not matches:
        problem = WRONG_CREDENTIALS
    elif account.installation_id != installation.id:
        problem = OTHER_INSTALLATION
    else:
        problem = None
    return problem


# -- configuring: a new account -----------------------------------------------------------------


@dataclass
class NewAccountForm:
    display_name: str = ""
    email: str = ""
    password: str = field(default="", repr=False)
    confirmation: str = field(default="", repr=False)

    @classmethod
    def parse(cls, values: Any) -> NewAccountForm:
        return cls(
            display_name=str(values.get("display_name", "")).strip()[:300],
            email=str(values.get("email", "")).strip()[:300],
            password=str(values.get("password", ""))[: MAX_PASSWORD_LENGTH + 1],
            confirmation=str(values.get("password_confirmation", ""))[: MAX_PASSWORD_LENGTH + 1],
        )


def new_account_problems(form: NewAccountForm) -> dict[str, str]:
    """Each field's problem, in plain words (empty: the form is valid apart from uniqueness)."""
    errors: dict[str, str] = {}
    if not form.display_name:
        errors["display_name"] = _("Enter the name parents will see.")
    elif len(form.display_name) > 200:
        errors["display_name"] = _("That name is too long: 200 characters at most.")
    if not _EMAIL_SHAPE.match(form.email) or len(form.email) > 254:
        errors["email"] = _("Enter an email address, e.g. centre@example.org.")
    problem = password_problem(form.password, form.confirmation, form.email)
    if problem is not None:
        field = "password_confirmation" if problem.field == "confirmation" else "password"
        errors[field] = problem.message
    return errors


def duplicate_email_message() -> str:
    return _(
        "The account could not be created: another installation of yours already uses this "
        "email address."
    )


async def create_account(
    session: AsyncSession, installation: Installation, form: NewAccountForm, *, now: datetime
) -> tuple[dict[str, str], list[Email]]:
    """ "Créer un compte": validate, create the centre account, set the name parents see, turn
    the light green. Returns the problems per field (nothing created when there are any) and
    the confirmation email to the new account. The caller commits (an `IntegrityError` there
    means the installation got an account meanwhile: show `already_linked_message`), then
    sends."""
    assert installation.id is not None
    errors = new_account_problems(form)
    if (
        "email" not in errors
        and await _account_by_email(session, installation.organization_id, form.email) is not None
    ):
        errors["email"] = duplicate_email_message()
    if not errors and await account_of(session, installation.id) is not None:
        errors["form"] = already_linked_message()
    if errors:
        return errors, []
    password_hash = await run_in_threadpool(hash_password, form.password)
    address = normalize_email(form.email)
    session.add(
        CenterAccount(
            installation_id=installation.id,
            email=address,
            password_hash=password_hash,
            created_at=now,
        )
    )
    installation.display_name = form.display_name
    session.add(installation)
    organization = await session.get(Organization, installation.organization_id)
    body = render(
        "email/integration_account.txt",
        organization=organization.name if organization else "Relais",
        installation=form.display_name,
        email=address,
    )
    subject = "Relais — Compte du centre créé / Centre account created"
    return {}, [Email(address, subject, body)]


def already_linked_message() -> str:
    return _(
        "This installation already has an account. Use “I already have an account” "
        "with its email and password."
    )


def is_duplicate(error: IntegrityError) -> bool:
    """The installation got its account meanwhile (one per installation, by a constraint)."""
    return "center_account" in str(error.orig).lower()


# -- the roster sync ---------------------------------------------------------------------------


@dataclass
class SyncCounts:
    invited: int = 0
    reinvited: int = 0
    unchanged: int = 0
    without_email: int = 0
    children_removed: int = 0
    # Sent an activation link less than RECENT_INVITATION ago: not sent another.
    recently_invited: int = 0

    def as_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> SyncCounts:
        try:
            values = json.loads(text or "{}")
        except ValueError:
            values = {}
        known = {k: int(v) for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


async def _guardian_ids(session: AsyncSession, organization_id: int) -> list[int]:
    """The guardians (kind "guardian") of the organization's active, pickup-enabled children."""
    rows = await session.execute(
        select(col(Guardian.id))
        .join(ChildGuardian, col(ChildGuardian.guardian_id) == col(Guardian.id))
        .join(Child, col(Child.id) == col(ChildGuardian.child_id))
        .where(
            col(Child.organization_id) == organization_id,
            col(Child.active).is_(True),
            col(Child.pickup_enabled).is_(True),
            col(Guardian.organization_id) == organization_id,
            col(Guardian.kind) == "guardian",
        )
        .distinct()
        .order_by(col(Guardian.id))
    )
    return [guardian_id for guardian_id in rows.scalars().all() if guardian_id is not None]


async def _children_off_parent_side(session: AsyncSession, organization_id: int) -> int:
    """Children the parent side does not list: pickup not enabled (or no longer active)."""
    return int(
        (
            await session.execute(
                select(func.count())
                .select_from(Child)
                .where(
                    col(Child.organization_id) == organization_id,
                    (col(Child.pickup_enabled).is_(False)) | (col(Child.active).is_(False)),
                )
            )
        ).scalar_one()
    )


async def running_job(session: AsyncSession, organization_id: int) -> SyncJob | None:
    return (
        (
            await session.execute(
                select(SyncJob)
                .where(
                    col(SyncJob.organization_id) == organization_id,
                    col(SyncJob.status) == "running",
                )
                .order_by(col(SyncJob.id).desc())
            )
        )
        .scalars()
        .first()
    )


async def latest_job(session: AsyncSession, organization_id: int) -> SyncJob | None:
    return (
        (
            await session.execute(
                select(SyncJob)
                .where(col(SyncJob.organization_id) == organization_id)
                .order_by(col(SyncJob.id).desc())
            )
        )
        .scalars()
        .first()
    )


async def create_job(session: AsyncSession, organization_id: int, *, now: datetime) -> SyncJob:
    """A new running job with its total (the caller commits, then runs `run_sync`)."""
    job = SyncJob(
        organization_id=organization_id,
        status="running",
        total=len(await _guardian_ids(session, organization_id)),
        done=0,
        summary="{}",
        started_at=now,
    )
    session.add(job)
    await session.flush()
    return job


async def _sync_guardian(
    session: AsyncSession,
    guardian: Guardian,
    counts: SyncCounts,
    base_url: str,
    now: datetime,
    last_sent: datetime | None,
) -> Email | None:
    """Invite `guardian` if the parent side does not have them yet (or has an old address);
    `last_sent`: when their latest activation link went out."""
    address = guardian.email.strip()
    if not address:
        counts.without_email += 1
        return None
    if guardian.invited_email is not None and normalize_email(
        guardian.invited_email
    ) != normalize_email(address):
        # Their last link went to an address they no longer have: the new one needs its own.
        counts.reinvited += 1
    elif guardian.account_state == "active":
        counts.unchanged += 1
        return None
    elif last_sent is not None and now - last_sent < RECENT_INVITATION:
        counts.recently_invited += 1
        return None
    elif guardian.invited_email is None:
        counts.invited += 1
    else:
        counts.unchanged += 1
        return None
    # create_invitation records the address (Guardian.invited_email).
    return await create_invitation(session, guardian, base_url=base_url, now=now)


async def run_sync(
    db: Database, mailer: Mailer, now: Callable[[], datetime], job_id: int, base_url: str
) -> SyncCounts:
    """Run one sync job to its end: batches of `SYNC_BATCH` guardians, each committed (with the
    job's progress) before its invitations are sent. A failure marks the job failed."""
    counts = SyncCounts()
    try:
        async with db.session() as session:
            job = await session.get(SyncJob, job_id)
            assert job is not None
            organization_id = job.organization_id
            guardian_ids = await _guardian_ids(session, organization_id)
            counts.children_removed = await _children_off_parent_side(session, organization_id)
            job.total = len(guardian_ids)
            session.add(job)
            await session.commit()
        for start in range(0, len(guardian_ids), SYNC_BATCH):
            batch = guardian_ids[start : start + SYNC_BATCH]
            emails: list[Email] = []
            async with db.session() as session:
                guardians = (
                    await session.execute(
                        select(Guardian)
                        .where(col(Guardian.id).in_(batch))
                        .order_by(col(Guardian.id))
                    )
                ).scalars()
                last_sent = await last_invited(session, batch)
                for guardian in guardians:
                    assert guardian.id is not None
                    email = await _sync_guardian(
                        session, guardian, counts, base_url, now(), last_sent.get(guardian.id)
                    )
                    if email is not None:
                        emails.append(email)
                job = await session.get(SyncJob, job_id)
                assert job is not None
                job.done = start + len(batch)
                job.summary = counts.as_json()
                session.add(job)
                await session.commit()
            await send_all(mailer, emails)
        async with db.session() as session:
            job = await session.get(SyncJob, job_id)
            assert job is not None
            job.status = "done"
            job.done = job.total
            job.summary = counts.as_json()
            job.finished_at = now()
            session.add(job)
            await session.commit()
    except Exception:
        log.exception("roster sync %s failed", job_id)
        async with db.session() as session:
            job = await session.get(SyncJob, job_id)
            if job is not None:
                job.status = "failed"
                job.summary = counts.as_json()
                job.finished_at = now()
                session.add(job)
                await session.commit()
    return counts


# Running sync tasks: a reference keeps each alive until it ends (asyncio holds weak ones).
_TASKS: set[asyncio.Task[SyncCounts]] = set()


def start_in_background(
    db: Database, mailer: Mailer, now: Callable[[], datetime], job_id: int, base_url: str
) -> asyncio.Task[SyncCounts]:
    task = asyncio.create_task(run_sync(db, mailer, now, job_id, base_url))
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return task
