"""The parent app (/parent): the family's children and where each stands today; announce an
arrival by time (one child or siblings in one tap) or by GPS; follow it live; invite another
adult to pick up. One route serves the page or, for htmx, the family region."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from ...accounts.authz import GuardianPrincipal
from ...accounts.guardians import invite
from ...core import i18n, ratelimit
from ...core.i18n import _
from ...core.models import (
    ActorKind,
    Child,
    ChildGuardian,
    Guardian,
    Installation,
    Pickup,
)
from ...core.ratelimit import RateLimited, check_announce, rate_limited_message
from ...core.templating import render
from ...pickups import rules, service, trips
from ...pickups.eta import Position
from ...pickups.events import BoardEvent
from ...pickups.family import FamilyState, FamilyView, family_children, load_family
from ...pickups.messages import refusal_message
from ...pickups.rules import RuleError
from ..context import csrf_form, is_htmx, page, public_base_url, services
from ..origin import origin_allowed
from ..sessions import PARENT, end_sessions, guardian_principal, require_guardian


def _actor(principal: GuardianPrincipal, request: Request) -> service.Actor:
    return service.Actor(
        ActorKind.GUARDIAN,
        principal.guardian_id,
        principal.name,
        request.headers.get("user-agent", ""),
    )


async def _family(request: Request, principal: GuardianPrincipal) -> FamilyState:
    svc = services(request)
    async with svc.db.session() as session:
        return await load_family(session, principal.guardian_id, svc.clock.now())


async def _authorized_people(session: AsyncSession, principal: GuardianPrincipal) -> list[Guardian]:
    """The adults authorized to pick up this guardian's children."""
    children = [c.id for c in await family_children(session, principal.guardian_id)]
    return list(
        (
            await session.execute(
                select(Guardian)
                .join(ChildGuardian, col(ChildGuardian.guardian_id) == col(Guardian.id))
                .where(
                    col(ChildGuardian.child_id).in_(children),
                    col(Guardian.kind) == "authorized",
                    col(Guardian.account_state) != "revoked",
                )
                .distinct()
                .order_by(col(Guardian.first_name))
            )
        )
        .scalars()
        .all()
    )


def _family_fragment(family: FamilyState, notices: list[tuple[str, str]]) -> HTMLResponse:
    """An action's answer for htmx: the notices (swapped into #notices) and the family's live
    parts out of band, so the page shows the result even before the socket says it."""
    return HTMLResponse(
        render("parent/_notices.html", notices=notices)
        + render("parent/_family.html", family=family, oob=True)
    )


async def _answer(
    request: Request, principal: GuardianPrincipal, notices: list[tuple[str, str]]
) -> Response:
    """After an action: the family region for htmx, or the whole page (no-JS forms)."""
    family = await _family(request, principal)
    if is_htmx(request):
        return _family_fragment(family, notices)
    return await _page(request, principal, family, notices)


async def _page(
    request: Request,
    principal: GuardianPrincipal,
    family: FamilyState,
    notices: list[tuple[str, str]],
) -> Response:
    async with services(request).db.session() as session:
        authorized = await _authorized_people(session, principal)
    return page(
        request,
        "parent/page.html",
        family=family,
        notices=notices,
        principal=principal,
        authorized=authorized,
        oob=False,
    )


async def parent_home(request: Request) -> Response:
    principal = await require_guardian(request)
    family = await _family(request, principal)
    if is_htmx(request):
        return HTMLResponse(render("parent/_family.html", family=family, oob=False))
    return await _page(request, principal, family, [])


def _chosen_children(form: FormData, family: FamilyState) -> list[int]:
    wanted: list[int] = []
    for raw in form.getlist("child_id"):
        try:
            wanted.append(int(str(raw)))
        except ValueError:
            continue
    mine = {c.child_id for c in family.children}
    # A forged id of another family's child is treated as unknown: nothing is revealed.
    return [cid for cid in wanted if cid in mine]


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


# What announcing does for one child: (its outcome, the line the parent reads).
Announcer = Callable[
    [AsyncSession, Child, Guardian, Installation], Awaitable[tuple[service.Outcome, str]]
]


async def _announce_each(
    request: Request, principal: GuardianPrincipal, form: FormData, announce_one: Announcer
) -> list[tuple[str, str]]:
    """Announce for each chosen child of the family (siblings in one tap): each succeeds or
    is refused on its own, in plain words; the board events go out after the commit."""
    svc = services(request)
    now = svc.clock.now()
    chosen = _chosen_children(form, await _family(request, principal))
    if not chosen:
        return [("error", _("Choose at least one child."))]
    notices: list[tuple[str, str]] = []
    events: list[BoardEvent] = []
    async with svc.db.session() as session:
        guardian = await session.get(Guardian, principal.guardian_id)
        assert guardian is not None
        try:
            await check_announce(session, principal.guardian_id, now)
        except RateLimited as limited:
            return [("error", rate_limited_message(limited))]
        for child_id in chosen:
            child = await session.get(Child, child_id)
            assert child is not None
            installation = await session.get(Installation, child.installation_id)
            assert installation is not None
            try:
                async with session.begin_nested():  # one refusal leaves the others done
                    outcome, line = await announce_one(session, child, guardian, installation)
                events += outcome.events
                notices.append(("ok", line))
            except RuleError as error:
                notices.append(("error", f"{child.first_name} : {refusal_message(error)}"))
        await session.commit()
    await svc.publish(events)
    return notices


async def announce(request: Request) -> Response:
    """Announce an arrival time for one child or several."""
    principal = await require_guardian(request)
    form = await csrf_form(request)
    now = services(request).clock.now()

    async def by_time(
        session: AsyncSession, child: Child, guardian: Guardian, installation: Installation
    ) -> tuple[service.Outcome, str]:
        arrival = _arrival_from_form(form, now, installation.timezone)
        outcome = await service.announce_eta(
            session,
            child=child,
            guardian=guardian,
            installation=installation,
            arrival=arrival,
            actor=_actor(principal, request),
            now=now,
        )
        line = _("{name}: the daycare is told you arrive at {time}.").format(
            name=child.first_name, time=arrival.strftime("%H:%M")
        )
        return outcome, line

    notices = await _announce_each(request, principal, form, by_time)
    return await _answer(request, principal, notices)


async def _own_pickup(
    session: AsyncSession, principal: GuardianPrincipal, pickup_id: str
) -> tuple[Pickup, Installation]:
    try:
        pickup = await session.get(Pickup, int(pickup_id))
    except ValueError:
        pickup = None
    if pickup is not None:
        mine = {c.id for c in await family_children(session, principal.guardian_id)}
        if pickup.child_id in mine:
            installation = await session.get(Installation, pickup.installation_id)
            assert installation is not None
            return pickup, installation
    raise HTTPException(404, _("Not found, or not yours to see."))


async def change_time(request: Request) -> Response:
    principal = await require_guardian(request)
    form = await csrf_form(request)
    svc = services(request)
    now = svc.clock.now()
    notices: list[tuple[str, str]] = []
    events: list[BoardEvent] = []
    async with svc.db.session() as session:
        pickup, installation = await _own_pickup(session, principal, request.path_params["id"])
        try:
            await check_announce(session, principal.guardian_id, now)
            arrival = _arrival_from_form(form, now, installation.timezone)
            outcome = await service.change_eta(
                session,
                pickup,
                installation=installation,
                arrival=arrival,
                actor=_actor(principal, request),
                now=now,
            )
            events = outcome.events
            await session.commit()
            notices.append(
                ("ok", _("New arrival time: {time}.").format(time=arrival.strftime("%H:%M")))
            )
        except RuleError as error:
            notices.append(("error", refusal_message(error)))
        except RateLimited as limited:
            notices.append(("error", rate_limited_message(limited)))
    await svc.publish(events)
    return await _answer(request, principal, notices)


async def cancel(request: Request) -> Response:
    principal = await require_guardian(request)
    await csrf_form(request)
    svc = services(request)
    notices: list[tuple[str, str]] = []
    events: list[BoardEvent] = []
    async with svc.db.session() as session:
        pickup, _installation = await _own_pickup(session, principal, request.path_params["id"])
        try:
            outcome = await service.cancel(
                session, pickup, actor=_actor(principal, request), now=svc.clock.now()
            )
            events = outcome.events
            await session.commit()
            notices.append(("ok", _("Arrival cancelled.")))
        except RuleError as error:
            notices.append(("error", refusal_message(error)))
    await svc.publish(events)
    return await _answer(request, principal, notices)


# -- GPS trip ---------------------------------------------------------------------------


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


async def trip_start(request: Request) -> Response:
    """The phone's first position: a GPS announcement for each chosen child."""
    principal = await require_guardian(request)
    form = await csrf_form(request)
    now = services(request).clock.now()

    async def by_position(
        session: AsyncSession, child: Child, guardian: Guardian, installation: Installation
    ) -> tuple[service.Outcome, str]:
        outcome = await trips.start_trip(
            session,
            child=child,
            guardian=guardian,
            installation=installation,
            position=_position(form, now),
            actor=_actor(principal, request),
            now=now,
        )
        return outcome, _("{name}: the daycare follows your trip.").format(name=child.first_name)

    notices = await _announce_each(request, principal, form, by_position)
    family = await _family(request, principal)
    status = 200 if any(kind == "ok" for kind, _text in notices) else 422
    response = _family_fragment(family, notices)
    response.status_code = status
    return response


async def trip_position(request: Request) -> Response:
    principal = await require_guardian(request)
    form = await csrf_form(request)
    svc = services(request)
    now = svc.clock.now()
    try:
        async with svc.db.session() as session:
            events = await trips.record_position_for_guardian(
                session, principal.guardian_id, _position(form, now), now
            )
            await session.commit()
    except RuleError as error:
        return HTMLResponse(refusal_message(error), status_code=422)
    await svc.publish(events)
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


# -- live status ---------------------------------------------------------------------------


async def parent_socket(websocket: WebSocket) -> None:
    """The parent page's live status: same Origin rule as the board; the parent session."""
    svc = services(websocket)
    if not origin_allowed(websocket, svc.settings.allowed_origins):
        await websocket.close(code=1008)
        return
    principal = await guardian_principal(websocket)
    if principal is None:
        await websocket.close(code=1008)
        return
    async with svc.db.session() as session:
        children = await family_children(session, principal.guardian_id)
    installation_ids = frozenset(c.installation_id for c in children)
    view = FamilyView(principal.guardian_id, i18n.current_locale())
    session_hash = principal.session_hash
    del children, principal  # the socket lives long: keep no loaded rows
    await websocket.accept()
    await svc.hub.serve(
        websocket, view, session_hash=session_hash, installation_ids=installation_ids
    )


# -- authorized pickup persons -----------------------------------------------------------


async def invite_person(request: Request) -> Response:
    """A guardian lets another adult (a grandparent) announce and pick up their children."""
    principal = await require_guardian(request)
    form = await csrf_form(request)
    if not principal.manages_family:
        raise HTTPException(403, _("Only a parent can invite someone to pick up."))
    first = str(form.get("first_name", "")).strip()[:100]
    last = str(form.get("last_name", "")).strip()[:100]
    email = str(form.get("email", "")).strip().lower()[:254]
    notices: list[tuple[str, str]] = []
    if not first or not last or "@" not in email or "." not in email.rsplit("@", 1)[-1]:
        notices.append(("error", _("Enter the person's first name, last name and email.")))
        return await _answer(request, principal, notices)
    svc = services(request)
    async with svc.db.session() as session:
        # Invitations send email to any address: a few per hour, like the other links.
        decision = await ratelimit.hit(
            session,
            f"invite-person:guardian:{principal.guardian_id}",
            ratelimit.LINK_EMAIL_LIMIT.count,
            ratelimit.LINK_EMAIL_LIMIT.window,
            svc.clock.now(),
        )
        await session.commit()
        if not decision.allowed:
            return await _answer(request, principal, [("error", rate_limited_message(decision))])
        existing = (
            await session.execute(
                select(Guardian).where(
                    col(Guardian.organization_id) == principal.organization_id,
                    col(Guardian.email) == email,
                )
            )
        ).scalar_one_or_none()
        if existing is not None and existing.kind != "authorized":
            notices.append(("error", _("This person is already a guardian known to the daycare.")))
            return await _answer(request, principal, notices)
        person = existing or Guardian(
            organization_id=principal.organization_id,
            external_id=f"AUTH-{principal.guardian_id}-{email}"[:100],
            first_name=first,
            last_name=last,
            email=email,
            kind="authorized",
            invited_by_id=principal.guardian_id,
        )
        if existing is not None:
            person.account_state = "active" if person.password_hash else "invited"
        session.add(person)
        await session.flush()
        assert person.id is not None
        linked = {
            row
            for row in (
                await session.execute(
                    select(col(ChildGuardian.child_id)).where(
                        col(ChildGuardian.guardian_id) == person.id
                    )
                )
            ).scalars()
        }
        for child in await family_children(session, principal.guardian_id):
            assert child.id is not None
            if child.id not in linked:
                session.add(ChildGuardian(child_id=child.id, guardian_id=person.id))
        await session.commit()
        invite_id = person.id if person.account_state != "active" else None
    notices.append(
        (
            "ok",
            _("{name} can now announce and pick up; an invitation was sent to {email}.").format(
                name=first, email=email
            ),
        )
    )
    if invite_id is not None and not await invite(
        svc.db, svc.clock, svc.mailer, invite_id, public_base_url(request)
    ):
        notices = [
            (
                "error",
                _(
                    "{name} can announce and pick up, but the invitation email could not "
                    "be sent. Try again later: invite the same address again."
                ).format(name=first),
            )
        ]
        return await _answer(request, principal, notices)
    return (
        RedirectResponse("/parent", status_code=303)
        if not is_htmx(request)
        else await _answer(request, principal, notices)
    )


async def revoke_person(request: Request) -> Response:
    principal = await require_guardian(request)
    await csrf_form(request)
    svc = services(request)
    try:
        person_id = int(request.path_params["id"])
    except ValueError:
        raise HTTPException(404, _("Not found, or not yours to see.")) from None
    if not principal.manages_family:
        raise HTTPException(403, _("Only a parent can invite someone to pick up."))
    async with svc.db.session() as session:
        people = {p.id: p for p in await _authorized_people(session, principal)}
        person = people.get(person_id)
        if person is None:
            raise HTTPException(404, _("Not found, or not yours to see."))
        children = [c.id for c in await family_children(session, principal.guardian_id)]
        await session.execute(
            delete(ChildGuardian).where(
                col(ChildGuardian.guardian_id) == person_id,
                col(ChildGuardian.child_id).in_(children),
            )
        )
        # Another family may still count on this person; the account closes with the last.
        remaining = (
            await session.execute(
                select(col(ChildGuardian.child_id)).where(
                    col(ChildGuardian.guardian_id) == person_id
                )
            )
        ).first()
        if remaining is None:
            person.account_state = "revoked"
            session.add(person)
        await session.commit()
    if remaining is None:
        await end_sessions(request, PARENT, person_id)
    return RedirectResponse("/parent", status_code=303)


routes = [
    Route("/parent", parent_home, methods=["GET"]),
    Route("/parent/announce", announce, methods=["POST"]),
    Route("/parent/pickups/{id}/time", change_time, methods=["POST"]),
    Route("/parent/pickups/{id}/cancel", cancel, methods=["POST"]),
    Route("/parent/trip/start", trip_start, methods=["POST"]),
    Route("/parent/trip/position", trip_position, methods=["POST"]),
    Route("/parent/trip/stop", trip_stop, methods=["POST"]),
    Route("/parent/people", invite_person, methods=["POST"]),
    Route("/parent/people/{id}/revoke", revoke_person, methods=["POST"]),
    WebSocketRoute("/parent/ws", parent_socket),
]
