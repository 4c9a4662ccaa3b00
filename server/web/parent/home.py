"""The parent app (/parent): the family's children and where each stands today; announce an
arrival by time (one child or siblings in one tap), change the time, cancel. One route serves
the page or, for htmx, the family region."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from ...accounts.authz import GuardianPrincipal
from ...core.i18n import _
from ...core.models import Installation, Pickup
from ...core.ratelimit import RateLimited, check_announce, rate_limited_message
from ...core.templating import render
from ...pickups import rules, service
from ...pickups.family import family_children
from ...pickups.messages import refusal_message
from ...pickups.rules import RuleError
from ..context import csrf_form, is_htmx, services
from ..limits import not_found
from ..routing import get, post
from ..sessions import require_guardian
from .common import Announcing, Notices, actor, announce_each, answer, family, family_page


async def parent_home(request: Request) -> Response:
    principal = await require_guardian(request)
    state = await family(request, principal)
    if is_htmx(request):
        return HTMLResponse(render("parent/_family.html", family=state, oob=False))
    return await family_page(request, principal, state, [])


def _arrival_from_form(form: FormData, now: datetime, tz: str) -> time:
    minutes = str(form.get("in_minutes", "")).strip()
    if minutes:
        try:
            delta = int(minutes)
        except ValueError:
            raise RuleError(rules.Refusal.BAD_TIME, value=minutes) from None
        if not 0 < delta <= 12 * 60:
            raise RuleError(rules.Refusal.BAD_TIME, value=minutes)
        local = (now + timedelta(minutes=delta)).astimezone(ZoneInfo(tz))
        return local.time().replace(second=0, microsecond=0)
    return rules.parse_hhmm(str(form.get("eta", "")))


def _hhmm(arrival: time) -> str:
    return arrival.strftime("%H:%M")


async def announce(request: Request) -> Response:
    """Announce an arrival time for one child or several."""
    principal = await require_guardian(request)
    form = await csrf_form(request)

    async def by_time(session: AsyncSession, who: Announcing) -> tuple[service.Outcome, str]:
        arrival = _arrival_from_form(form, who["now"], who["installation"].timezone)
        outcome = await service.announce_eta(session, arrival=arrival, **who)
        line = _("{name}: the daycare is told you arrive at {time}.")
        return outcome, line.format(name=who["child"].first_name, time=_hhmm(arrival))

    notices = await announce_each(request, principal, form, by_time)
    return await answer(request, principal, notices)


# What the parent does to one of their arrivals: its outcome and the line they read.
PickupAction = Callable[
    [AsyncSession, Pickup, Installation, service.Actor], Awaitable[tuple[service.Outcome, str]]
]


async def _on_own_pickup(
    request: Request, principal: GuardianPrincipal, act: PickupAction
) -> Response:
    """Do `act` to the pickup the path names, if it is one of the family's children's
    (otherwise the same 404 as an unknown one); the boards are told after the commit."""
    svc = services(request)
    notices: Notices
    async with svc.db.session() as session:
        pickup = await session.get(Pickup, request.path_params["id"])
        if pickup is None or pickup.child_id not in {
            c.id for c in await family_children(session, principal.guardian_id)
        }:
            raise not_found()
        installation = await session.get(Installation, pickup.installation_id)
        assert installation is not None
        try:
            outcome, line = await act(session, pickup, installation, actor(principal, request))
            await svc.commit_and_publish(session, outcome.events)
            notices = [("ok", line)]
        except RuleError as error:
            notices = [("error", refusal_message(error))]
        except RateLimited as limited:
            notices = [("error", rate_limited_message(limited))]
    return await answer(request, principal, notices)


async def change_time(request: Request) -> Response:
    principal = await require_guardian(request)
    form = await csrf_form(request)
    now = services(request).clock.now()

    async def new_time(
        session: AsyncSession, pickup: Pickup, installation: Installation, who: service.Actor
    ) -> tuple[service.Outcome, str]:
        await check_announce(session, principal.guardian_id, now)
        arrival = _arrival_from_form(form, now, installation.timezone)
        outcome = await service.change_eta(
            session, pickup, installation=installation, arrival=arrival, actor=who, now=now
        )
        return outcome, _("New arrival time: {time}.").format(time=_hhmm(arrival))

    return await _on_own_pickup(request, principal, new_time)


async def cancel(request: Request) -> Response:
    principal = await require_guardian(request)
    await csrf_form(request)
    now = services(request).clock.now()

    async def cancelled(
        session: AsyncSession, pickup: Pickup, _installation: Installation, who: service.Actor
    ) -> tuple[service.Outcome, str]:
        outcome = await service.cancel(session, pickup, actor=who, now=now)
        return outcome, _("Arrival cancelled.")

    return await _on_own_pickup(request, principal, cancelled)


routes: list[BaseRoute] = [
    get("/parent", parent_home, "parent.home"),
    post("/parent/announce", announce, "parent.announce"),
    post("/parent/pickups/{id:id}/time", change_time, "parent.change_time"),
    post("/parent/pickups/{id:id}/cancel", cancel, "parent.cancel"),
]
