"""The board's buttons: Appeler / Prêt / Départ (with its confirmation of the adult), undo,
remove an alert, check a child in, move a child to another group. Each answers the board's
live region, as the board that pressed it now shows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from ...accounts.authz import StaffPrincipal, can_act_on_installation
from ...core.i18n import _
from ...core.models import ActorKind, Child, Group, Installation, Pickup, PickupStatus
from ...core.templating import render
from ...pickups import queries as pickups
from ...pickups import service
from ...pickups.attendance import check_in
from ...pickups.events import BoardEvent
from ...pickups.messages import refusal_message, status_label
from ...pickups.moves import WrongInstallation, move_to_group
from ...pickups.rules import STAFF_STEPS, DismissReason, Refusal, RuleError
from ...roster import queries as roster
from ..boards import BoardChoice, requested_choice
from ..context import csrf_form, services
from ..limits import not_found, parse_id
from ..routing import get, page_and_form, post
from ..sessions import require_staff
from .live import live_response


class AtInstallation(Protocol):
    installation_id: int


Row = TypeVar("Row", bound=AtInstallation)


async def _acted_on(
    session: AsyncSession, principal: StaffPrincipal, model: type[Row], row_id: int
) -> tuple[Row, Installation]:
    """The pickup or child a button names, with its installation, if `principal` may act
    there; otherwise the same 404 as an unknown id."""
    row = await session.get(model, row_id)
    installation = await session.get(Installation, row.installation_id) if row else None
    if row is None or installation is None or not can_act_on_installation(principal, installation):
        raise not_found()
    return row, installation


async def _answer(
    request: Request,
    session: AsyncSession,
    choice: BoardChoice,
    events: list[BoardEvent],
    toast: str | None = None,
) -> HTMLResponse:
    """Commit, tell every board, and answer the pressing board's live region."""
    svc = services(request)
    await svc.commit_and_publish(session, events)
    return live_response(await choice.state(session, svc.clock.now()), choice, toast)


def _actor(request: Request, principal: StaffPrincipal) -> service.Actor:
    return service.Actor(
        ActorKind.STAFF, principal.user_id, principal.name, request.headers.get("user-agent", "")
    )


def _form_status(form: FormData, name: str) -> PickupStatus:
    try:
        return PickupStatus(str(form.get(name, "")))
    except ValueError:
        raise HTTPException(422, _("Unknown step.")) from None


def _lost_race(outcome: service.Outcome, message: str) -> str | None:
    """The note for a press another tablet beat: the board just shows the current state."""
    if outcome.changed:
        return None
    return message.format(status=status_label(outcome.pickup.status))


async def _change_pickup(
    request: Request,
    session: AsyncSession,
    principal: StaffPrincipal,
    change: Callable[[Pickup, service.Actor, datetime], Awaitable[service.Outcome]],
    *,
    lost: str,
    refused_status: Callable[[RuleError], int] = lambda _error: 409,
) -> Response:
    """A button on the pickup the path names (if the staff member may act there): `change`
    applies it; a refusal answers its reason, a lost race (another tablet was faster) a note
    over the current state, and the pressing board gets its live region."""
    choice = await requested_choice(request, session, principal)
    pickup, _installation = await _acted_on(
        session, principal, Pickup, request.path_params["pickup_id"]
    )
    try:
        outcome = await change(pickup, _actor(request, principal), services(request).clock.now())
    except RuleError as error:
        raise HTTPException(refused_status(error), refusal_message(error)) from None
    return await _answer(request, session, choice, outcome.events, _lost_race(outcome, lost))


async def pickup_status(request: Request) -> Response:
    """Appeler / Prêt / Départ. A lost race (another tablet was faster) is not an error: the
    board simply shows the current state, with a short note. Départ says who the child was
    handed to (`handed_to`, chosen in its confirmation; by default who announced)."""
    principal = await require_staff(request)
    form = await csrf_form(request)
    svc = services(request)
    target = _form_status(form, "to")
    expected = _form_status(form, "from")
    if target not in STAFF_STEPS:
        raise HTTPException(422, _("Unknown step."))
    handed_to: int | None = None
    if form.get("handed_to"):
        handed_to = parse_id(form.get("handed_to"))
        if handed_to is None:
            raise not_found()
    async with svc.db.session() as session:
        return await _change_pickup(
            request,
            session,
            principal,
            lambda pickup, actor, now: service.advance(
                session,
                pickup,
                target=target,
                expected=expected,
                actor=actor,
                now=now,
                handed_to=handed_to,
            ),
            lost=_("Already done on another device: now {status}."),
        )


async def pickup_dismiss(request: Request) -> Response:
    """GET: the reasons to remove an alert. POST: remove it, with the reason chosen (the
    parent is told it)."""
    principal = await require_staff(request)
    svc = services(request)
    # A removal is checked for its origin and CSRF token before anything is looked up.
    form = await csrf_form(request) if request.method == "POST" else None
    async with svc.db.session() as session:
        if form is None:
            pickup, _installation = await _acted_on(
                session, principal, Pickup, request.path_params["pickup_id"]
            )
            child = await session.get(Child, pickup.child_id)
            assert child is not None
            return HTMLResponse(
                render(
                    "board/_dismiss.html",
                    pickup=pickup,
                    child=child,
                    reasons=[r.value for r in DismissReason],
                    query=request.url.query,
                )
            )
        expected = _form_status(form, "from")
        reason = str(form.get("reason", ""))
        return await _change_pickup(
            request,
            session,
            principal,
            lambda pickup, actor, now: service.dismiss(
                session, pickup, reason=reason, expected=expected, actor=actor, now=now
            ),
            lost=_("Already done on another device: now {status}."),
            refused_status=lambda error: 422 if error.refusal == Refusal.BAD_REASON else 409,
        )


async def pickup_undo(request: Request) -> Response:
    """« Annuler »: take back the pickup's last step or removal, within 10 seconds."""
    principal = await require_staff(request)
    form = await csrf_form(request)
    svc = services(request)
    expected = _form_status(form, "from")
    async with svc.db.session() as session:
        return await _change_pickup(
            request,
            session,
            principal,
            lambda pickup, actor, now: service.undo(
                session, pickup, expected=expected, actor=actor, now=now
            ),
            lost=_("Already changed on another device: now {status}."),
        )


@dataclass(frozen=True)
class Adult:
    """An adult a child may be handed to, as the Départ confirmation shows them."""

    id: int
    name: str
    photo: str | None  # the approved photo's stored name (None: initials)
    initials: str
    authorized: bool  # an authorized person (a grandparent), not a guardian


async def family_adults(session: AsyncSession, child_id: int) -> list[Adult]:
    """Whom the child may go with, as a release shows them: the Départ confirmation and an
    emergency's reunification list the same adults."""
    return [
        Adult(
            id=g.id or 0,
            name=g.full_name,
            photo=g.photo,
            initials=(g.first_name[:1] + g.last_name[:1]).upper(),
            authorized=g.is_authorized_person,
        )
        for g in await pickups.family_adults(session, child_id)
    ]


async def pickup_release(request: Request) -> Response:
    """GET: the Départ confirmation, « Remis à Julie Tremblay ? » with that adult's photo,
    and the family's other adults, one tap each, for when someone else came."""
    principal = await require_staff(request)
    svc = services(request)
    async with svc.db.session() as session:
        pickup, _installation = await _acted_on(
            session, principal, Pickup, request.path_params["pickup_id"]
        )
        child = await session.get(Child, pickup.child_id)
        assert child is not None
        adults = await family_adults(session, pickup.child_id)
    announcer = next((a for a in adults if a.id == pickup.guardian_id), None)
    return HTMLResponse(
        render(
            "board/_release.html",
            pickup=pickup,
            child=child,
            announcer=announcer,
            others=[a for a in adults if a is not announcer],
            query=request.url.query,
        )
    )


async def child_check_in(request: Request) -> Response:
    principal = await require_staff(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        choice = await requested_choice(request, session, principal)
        child, installation = await _acted_on(
            session, principal, Child, request.path_params["child_id"]
        )
        events = await check_in(session, child, installation, svc.clock.now())
        return await _answer(request, session, choice, events)


async def child_move(request: Request) -> Response:
    """GET: the small menu of groups to move a child to. POST: move it."""
    principal = await require_staff(request)
    svc = services(request)
    async with svc.db.session() as session:
        child, installation = await _acted_on(
            session, principal, Child, request.path_params["child_id"]
        )
        if request.method == "GET":
            assert installation.id is not None
            groups = await roster.groups(session, [installation.id])
            return HTMLResponse(
                render("board/_move.html", child=child, groups=groups, query=request.url.query)
            )
        form = await csrf_form(request)
        choice = await requested_choice(request, session, principal)
        group_id = parse_id(form.get("group_id"))
        group = await session.get(Group, group_id) if group_id is not None else None
        if group is None:
            raise not_found()
        try:
            events = await move_to_group(session, child, group, svc.clock.now())
        except WrongInstallation:
            raise HTTPException(422, _("That group belongs to another installation.")) from None
        return await _answer(request, session, choice, events)


routes: list[BaseRoute] = [
    post("/board/pickups/{pickup_id:id}/status", pickup_status, "board.pickup_status"),
    get("/board/pickups/{pickup_id:id}/release", pickup_release, "board.pickup_release"),
    page_and_form("/board/pickups/{pickup_id:id}/dismiss", pickup_dismiss, "board.pickup_dismiss"),
    post("/board/pickups/{pickup_id:id}/undo", pickup_undo, "board.pickup_undo"),
    post("/board/children/{child_id:id}/check-in", child_check_in, "board.check_in"),
    page_and_form("/board/children/{child_id:id}/group", child_move, "board.move"),
]
