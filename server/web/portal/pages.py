"""/portal: the centre account's web portal (seed: the pickup side's administrator pages).

A centre account belongs to one installation: it sets the preparation time and the call
window ("Profil"), approves parents' photo changes, and follows which families activated
their account ("Liste des élèves"). Staff roles never reach these settings through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...accounts.authz import CenterPrincipal
from ...accounts.guardians import invite
from ...accounts.passwords import password_problem
from ...core import ratelimit
from ...core.i18n import _
from ...core.models import (
    CenterAccount,
    Child,
    ChildGuardian,
    Guardian,
    Installation,
)
from ...core.security import hash_password, verify_password
from ...photos.service import pending_photos
from ...pickups.rules import RuleError, parse_hhmm
from .. import limits
from ..context import csrf_form, page, public_base_url, services
from ..limits import path_id
from ..sessions import CENTRE, end_other_sessions, require_center

MAX_PREPARATION_MINUTES = 60


# -- sign-in ---------------------------------------------------------------------------------


# -- profile: preparation time and call window -------------------------------------------------


async def _installation(session: AsyncSession, principal: CenterPrincipal) -> Installation:
    installation = await session.get(Installation, principal.installation_id)
    assert installation is not None
    return installation


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


async def profile(request: Request) -> Response:
    principal = await require_center(request)
    svc = services(request)
    errors: dict[str, str] = {}
    saved = False
    async with svc.db.session() as session:
        installation = await _installation(session, principal)
        values = {
            "preparation_minutes": str(installation.preparation_minutes),
            "window_start": _hhmm(installation.call_window_start),
            "window_end": _hhmm(installation.call_window_end),
        }
        if request.method == "POST":
            form = await csrf_form(request)
            values = {key: str(form.get(key, "")).strip() for key in values}
            minutes = values["preparation_minutes"]
            if not minutes.isdigit() or not 1 <= int(minutes) <= MAX_PREPARATION_MINUTES:
                errors["preparation_minutes"] = _(
                    "Enter a whole number of minutes between 1 and {max}."
                ).format(max=MAX_PREPARATION_MINUTES)
            window: dict[str, time] = {}
            for key in ("window_start", "window_end"):
                try:
                    window[key] = parse_hhmm(values[key])
                except RuleError:
                    errors[key] = _("Write the time as HH:MM, for example 15:30.")
            if len(window) == 2 and window["window_start"] >= window["window_end"]:
                errors["window_end"] = _("The end of the window must come after its start.")
            if not errors:
                installation.preparation_minutes = int(minutes)
                installation.call_window_start = window["window_start"]
                installation.call_window_end = window["window_end"]
                session.add(installation)
                await session.commit()
                saved = True
        name = installation.display_name or installation.name
    return page(
        request,
        "portal/profile.html",
        status_code=400 if errors else 200,
        portal_section="profile",
        installation_name=name,
        values=values,
        errors=errors,
        saved=saved,
    )


async def change_password(request: Request) -> Response:
    """The centre account's password. Unlike the seed's product, changing it does not cut
    the link with the daycare side: that link is the installation, not the password."""
    principal = await require_center(request)
    form = await csrf_form(request)
    current = str(form.get("current_password", ""))
    new = str(form.get("new_password", ""))
    again = str(form.get("new_password_again", ""))
    svc = services(request)
    errors: dict[str, str] = {}
    async with svc.db.session() as session:
        account = await session.get(CenterAccount, principal.center_account_id)
        assert account is not None
        problem = password_problem(new, again, account.email)
        if not verify_password(account.password_hash, current):
            errors["current_password"] = _("This is not the current password.")
        elif problem is not None:
            field = "new_password_again" if problem.field == "confirmation" else "new_password"
            errors[field] = problem.message
        else:
            account.password_hash = hash_password(new)
            session.add(account)
            # Other browsers signed in with the old password are signed out.
            await end_other_sessions(
                session, CENTRE, principal.center_account_id, principal.session_hash
            )
            await session.commit()
        installation = await _installation(session, principal)
    return page(
        request,
        "portal/profile.html",
        status_code=400 if errors else 200,
        portal_section="profile",
        installation_name=installation.display_name or installation.name,
        values={
            "preparation_minutes": str(installation.preparation_minutes),
            "window_start": _hhmm(installation.call_window_start),
            "window_end": _hhmm(installation.call_window_end),
        },
        errors=errors,
        saved=False,
        password_changed=not errors,
    )


# -- the student list --------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardianLine:
    id: int
    name: str
    email: str
    active: bool


@dataclass(frozen=True)
class StudentLine:
    id: int
    name: str
    guardians: tuple[GuardianLine, ...]

    @property
    def all_active(self) -> bool:
        """White in the seed's list when every guardian activated; orange otherwise."""
        return bool(self.guardians) and all(g.active for g in self.guardians)


async def _students(session: AsyncSession, principal: CenterPrincipal) -> list[StudentLine]:
    children = (
        (
            await session.execute(
                select(Child)
                .where(
                    col(Child.installation_id) == principal.installation_id,
                    col(Child.active).is_(True),
                    col(Child.pickup_enabled).is_(True),
                )
                .order_by(col(Child.last_name), col(Child.first_name))
            )
        )
        .scalars()
        .all()
    )
    links = (
        await session.execute(
            select(col(ChildGuardian.child_id), Guardian)
            .join(Guardian, col(Guardian.id) == col(ChildGuardian.guardian_id))
            .join(Child, col(Child.id) == col(ChildGuardian.child_id))
            .where(
                col(Child.installation_id) == principal.installation_id,
                col(Guardian.kind) == "guardian",
            )
            .order_by(col(Guardian.last_name), col(Guardian.first_name))
        )
    ).all()
    by_child: dict[int, list[GuardianLine]] = {}
    for child_id, guardian in links:
        assert guardian.id is not None
        by_child.setdefault(child_id, []).append(
            GuardianLine(
                guardian.id, guardian.full_name, guardian.email, guardian.account_state == "active"
            )
        )
    lines = []
    for child in children:
        assert child.id is not None
        lines.append(StudentLine(child.id, child.full_name, tuple(by_child.get(child.id, []))))
    return lines


async def students(request: Request) -> Response:
    principal = await require_center(request)
    async with services(request).db.session() as session:
        lines = await _students(session, principal)
        installation = await _installation(session, principal)
    return page(
        request,
        "portal/students.html",
        portal_section="students",
        installation_name=installation.display_name or installation.name,
        students=lines,
        sent=request.query_params.get("sent"),
        wait=limits.parse_id(request.query_params.get("wait")),
    )


async def send_activation(request: Request) -> Response:
    """The seed's « Courriel d'activation » button: send the activation email again."""
    principal = await require_center(request)
    await csrf_form(request)
    svc = services(request)
    guardian_id = path_id(request.path_params, "guardian_id")
    async with svc.db.session() as session:
        mine = {g.id for line in await _students(session, principal) for g in line.guardians}
        if guardian_id not in mine:
            raise HTTPException(404, _("Not found, or not yours to see."))
        refused = await ratelimit.reinvite(
            session,
            f"guardian:{guardian_id}",
            f"centre:{principal.center_account_id}",
            svc.clock.now(),
        )
        await session.commit()
    if refused is not None:
        return RedirectResponse(f"/portal/students?wait={refused.retry_after}", status_code=303)
    await invite(svc.db, svc.clock, svc.mailer, guardian_id, public_base_url(request))
    return RedirectResponse(f"/portal/students?sent={guardian_id}", status_code=303)


async def approvals(request: Request) -> Response:
    """The seed's « Approbation en attente »: the photos parents of this installation changed,
    before and after, with the green « Oui » and « Non »."""
    principal = await require_center(request)
    async with services(request).db.session() as session:
        pending = await pending_photos(
            session, principal.organization_id, principal.installation_id
        )
        installation = await _installation(session, principal)
    return page(
        request,
        "portal/approvals.html",
        portal_section="approvals",
        installation_name=installation.display_name or installation.name,
        pending_photos=pending,
        decide_prefix="/portal/photos",
    )


async def portal_home(request: Request) -> Response:
    await require_center(request)
    return RedirectResponse("/portal/profile", status_code=303)


routes = [
    Route("/portal", portal_home, methods=["GET"]),
    Route("/portal/profile", profile, methods=["GET", "POST"]),
    Route("/portal/password", change_password, methods=["POST"]),
    Route("/portal/students", students, methods=["GET"]),
    Route("/portal/approvals", approvals, methods=["GET"]),
    Route("/portal/guardians/{guardian_id}/activation", send_activation, methods=["POST"]),
]
