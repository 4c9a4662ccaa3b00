"""A parent's trip by GPS (/parent/trip/...): the phone's first position announces the
chosen children, the next ones move the estimate, and stopping erases the positions. Only with
the parent's consent (server/privacy/consent.py), and for 60 minutes at most (trips.MAX_TRIP)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from ...core.i18n import _
from ...pickups import rules, service, trips
from ...pickups.eta import Position
from ...pickups.messages import refusal_message
from ...pickups.rules import RuleError
from ...privacy import consent
from ..context import csrf_form, services
from ..routing import post
from ..sessions import require_guardian
from .common import Announcing, announce_each, family, family_fragment


def _position(form: FormData, now: datetime) -> Position:
    """A fix from the phone. Its instant is the server's receipt time: phones' clocks drift,
    and the estimate needs one clock."""
    try:
        accuracy = str(form.get("accuracy", "")).strip()
        return Position(
            latitude=float(str(form.get("latitude", ""))),
            longitude=float(str(form.get("longitude", ""))),
            at=now,
            accuracy_m=float(accuracy) if accuracy else None,
        )
    except ValueError:
        raise RuleError(rules.Refusal.BAD_POSITION, reason="not a number") from None


def _consent_missing() -> str:
    return _("Agree to share your position first, or give an arrival time.")


async def trip_start(request: Request) -> Response:
    """The phone's first position: a GPS announcement for each chosen child, only with the
    parent's standing consent (asked once, on the page)."""
    principal = await require_guardian(request)
    form = await csrf_form(request)
    async with services(request).db.session() as session:
        agreed = await consent.current(session, principal.guardian_id)
    if agreed is None:
        response = family_fragment(
            await family(request, principal), [("error", _consent_missing())]
        )
        response.status_code = 403
        return response

    async def by_position(session: AsyncSession, who: Announcing) -> tuple[service.Outcome, str]:
        outcome = await trips.start_trip(session, position=_position(form, who["now"]), **who)
        line = _("{name}: the daycare follows your trip.")
        return outcome, line.format(name=who["child"].first_name)

    notices = await announce_each(request, principal, form, by_position)
    response = family_fragment(await family(request, principal), notices)
    response.status_code = 200 if any(kind == "ok" for kind, _text in notices) else 422
    return response


async def trip_position(request: Request) -> Response:
    principal = await require_guardian(request)
    form = await csrf_form(request)
    svc = services(request)
    now = svc.clock.now()
    try:
        async with svc.db.session() as session:
            if await consent.current(session, principal.guardian_id) is None:
                return HTMLResponse(_consent_missing(), status_code=403)  # withdrawn meanwhile
            events = await trips.record_position_for_guardian(
                session, principal.guardian_id, _position(form, now), now
            )
            await svc.commit_and_publish(session, events)
    except RuleError as error:
        return HTMLResponse(refusal_message(error), status_code=422)
    return Response(status_code=204)


async def trip_stop(request: Request) -> Response:
    """The phone stopped sharing (button, page closed): its positions are erased now."""
    principal = await require_guardian(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        for pickup in await trips.live_trips(session, principal.guardian_id, svc.clock.now()):
            assert pickup.id is not None
            await trips.end_trip(session, pickup.id)
        await session.commit()
    return Response(status_code=204)


routes: list[BaseRoute] = [
    post("/parent/trip/start", trip_start, "parent.trip_start"),
    post("/parent/trip/position", trip_position, "parent.trip_position"),
    post("/parent/trip/stop", trip_stop, "parent.trip_stop"),
]
