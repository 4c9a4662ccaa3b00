"""The portal's profile (/portal/profile): the preparation time and the call window of the
centre's installation (seed: « Profil »), and the centre account's password.

A centre account belongs to one installation. Staff roles never reach these settings through
here.
"""

from __future__ import annotations

from datetime import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...accounts.passwords import password_problem
from ...core.i18n import _
from ...core.models import CenterAccount, Installation
from ...core.security import hash_password, verify_password
from ...pickups.events import BoardEvent, next_seq
from ...pickups.rules import RuleError, parse_hhmm
from ..context import csrf_form, services
from ..routing import get, post
from ..sessions import CENTRE, end_other_sessions, require_center
from .common import installation_of, portal_page, see_other

MAX_PREPARATION_MINUTES = 60
MAX_OVERDUE_MINUTES = 30


def _settings(installation: Installation) -> dict[str, str]:
    """The installation's settings as the form shows them."""
    return {
        "preparation_minutes": str(installation.preparation_minutes),
        "overdue_minutes": str(installation.overdue_minutes),
        "window_start": installation.call_window_start.strftime("%H:%M"),
        "window_end": installation.call_window_end.strftime("%H:%M"),
    }


def _profile_page(
    request: Request,
    installation: Installation,
    errors: dict[str, str],
    values: dict[str, str] | None = None,
    **outcome: bool,
) -> Response:
    """The profile page: the settings form (`values` as typed, or as saved), the password
    form, the `errors` of either (400), and what was just done (`saved`, `password_changed`)."""
    return portal_page(
        request,
        "portal/profile.html",
        "profile",
        installation,
        status_code=400 if errors else 200,
        values=values or _settings(installation),
        errors=errors,
        **outcome,
    )


async def profile(request: Request) -> Response:
    principal = await require_center(request)
    svc = services(request)
    errors: dict[str, str] = {}
    saved = False
    async with svc.db.session() as session:
        installation = await installation_of(session, principal)
        values = _settings(installation)
        if request.method == "POST":
            form = await csrf_form(request)
            values = {key: str(form.get(key, "")).strip() for key in values}
            minutes = values["preparation_minutes"]
            if not minutes.isdigit() or not 1 <= int(minutes) <= MAX_PREPARATION_MINUTES:
                errors["preparation_minutes"] = _(
                    "Enter a whole number of minutes between 1 and {max}."
                ).format(max=MAX_PREPARATION_MINUTES)
            # A form without the field (an older page) keeps the current threshold.
            overdue = values["overdue_minutes"] = values["overdue_minutes"] or str(
                installation.overdue_minutes
            )
            if not overdue.isdigit() or not 1 <= int(overdue) <= MAX_OVERDUE_MINUTES:
                errors["overdue_minutes"] = _(
                    "Enter a whole number of minutes between 1 and {max}."
                ).format(max=MAX_OVERDUE_MINUTES)
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
                installation.overdue_minutes = int(overdue)
                session.add(installation)
                assert installation.id is not None
                # Open boards reload their settings (an event without rows).
                seq = await next_seq(session, installation.id)
                await svc.commit_and_publish(
                    session, [BoardEvent(installation.id, seq, "settings")]
                )
                saved = True
    return _profile_page(request, installation, errors, values, saved=saved)


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
        installation = await installation_of(session, principal)
    return _profile_page(request, installation, errors, saved=False, password_changed=not errors)


async def portal_home(request: Request) -> Response:
    await require_center(request)
    return see_other(request, "portal.profile")


routes: list[BaseRoute] = [
    get("/portal", portal_home, "portal.home"),
    Route("/portal/profile", profile, methods=["GET", "POST"], name="portal.profile"),
    post("/portal/password", change_password, "portal.password"),
]
