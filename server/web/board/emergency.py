"""The roll call's buttons on a board during an emergency: « Présent » (compare-and-set: the
second tablet to press changes nothing), « Annuler » within 10 seconds, and the release to an
authorized adult (GET: the family's adults with their approved photos; POST: the one chosen;
anyone else is refused, and the board says to call the director). Each answers the board's
emergency region as it now is; every other board gets the change over its socket."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from ...accounts.authz import StaffPrincipal, can_act_on_installation
from ...core import i18n
from ...core.models import ActorKind, Child, Emergency, Installation
from ...core.templating import render
from ...emergency import queries, service
from ...emergency.messages import refusal_message
from ...emergency.rules import Refusal, RuleError
from ...pickups.board import ViewKey
from ...pickups.writes import Actor
from ..context import csrf_form, services
from ..limits import not_found, parse_id
from ..routing import page_and_form, post
from ..sessions import require_staff
from .actions import family_adults


async def _emergency_and_child(
    request: Request, session: AsyncSession, principal: StaffPrincipal
) -> tuple[Emergency, Child]:
    """The emergency and child the path names, if this staff member may act at that
    installation and the child is on its roll; otherwise the same 404 as unknown ids."""
    emergency = await queries.emergency_in(
        session, principal.organization_id, request.path_params["emergency_id"]
    )
    installation = await session.get(Installation, emergency.installation_id) if emergency else None
    child = await session.get(Child, request.path_params["child_id"])
    if (
        emergency is None
        or installation is None
        or child is None
        or not can_act_on_installation(principal, installation)
        or await queries.roll_line(session, emergency.id or 0, child.id or 0) is None
    ):
        raise not_found()
    return emergency, child


def _actor(request: Request, principal: StaffPrincipal) -> Actor:
    return Actor(
        ActorKind.STAFF, principal.user_id, principal.name, request.headers.get("user-agent", "")
    )


async def _region(
    request: Request, session: AsyncSession, installation_id: int, answer_seq: int
) -> HTMLResponse:
    """The board's emergency region after the press (empty if the emergency has ended)."""
    now = services(request).clock.now()
    roll = await queries.load_roll(session, installation_id)
    view = ViewKey(installation_id, None, True, i18n.current_locale())
    return HTMLResponse(
        render("board/_emergency.html", roll=roll, view=view, now=now, answer_seq=answer_seq)
    )


Press = Callable[[AsyncSession, Emergency, Child, Actor, datetime], Awaitable[service.Outcome]]


async def _press(request: Request, press: Press) -> Response:
    principal = await require_staff(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        emergency, child = await _emergency_and_child(request, session, principal)
        try:
            outcome = await press(
                session, emergency, child, _actor(request, principal), svc.clock.now()
            )
        except RuleError as error:
            raise HTTPException(409, refusal_message(error.refusal)) from None
        await svc.commit_and_publish(session, outcome.events)
        seq = outcome.events[-1].seq if outcome.events else 0
        return await _region(request, session, emergency.installation_id, seq)


async def roll_present(request: Request) -> Response:
    """« Présent »: the child is at the assembly point."""
    return await _press(
        request,
        lambda session, emergency, child, actor, now: service.check(
            session, emergency, child.id or 0, actor, now
        ),
    )


async def roll_undo(request: Request) -> Response:
    """« Annuler »: a check taken back, within 10 seconds."""
    return await _press(
        request,
        lambda session, emergency, child, actor, now: service.undo(
            session, emergency, child.id or 0, actor, now
        ),
    )


async def roll_release(request: Request) -> Response:
    """GET: who may take the child — the family's guardians and authorized persons, each with
    the approved photo. POST `handed_to`: the child goes with that adult; an id not on the
    list is refused (422) and the board says to call the director."""
    principal = await require_staff(request)
    svc = services(request)
    form = await csrf_form(request) if request.method == "POST" else None
    async with svc.db.session() as session:
        emergency, child = await _emergency_and_child(request, session, principal)
        if form is None:
            assert child.id is not None
            adults = await family_adults(session, child.id)
            return HTMLResponse(
                render("board/_roll_release.html", emergency=emergency, child=child, adults=adults)
            )
        adult_id = parse_id(form.get("handed_to"))
        if adult_id is None:
            raise HTTPException(422, refusal_message(Refusal.NOT_FAMILY))
        try:
            outcome = await service.release(
                session, emergency, child, adult_id, _actor(request, principal), svc.clock.now()
            )
        except RuleError as error:
            status = 422 if error.refusal == Refusal.NOT_FAMILY else 409
            raise HTTPException(status, refusal_message(error.refusal)) from None
        await svc.commit_and_publish(session, outcome.events)
        seq = outcome.events[-1].seq if outcome.events else 0
        return await _region(request, session, emergency.installation_id, seq)


_CHILD = "/board/emergency/{emergency_id:id}/children/{child_id:id}"
routes: list[BaseRoute] = [
    post(f"{_CHILD}/present", roll_present, "board.roll_present"),
    post(f"{_CHILD}/undo", roll_undo, "board.roll_undo"),
    page_and_form(f"{_CHILD}/release", roll_release, "board.roll_release"),
]
