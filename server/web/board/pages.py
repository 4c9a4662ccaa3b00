"""The presence board (/board), its buttons, the wall display (/display/{token}) and the
board WebSocket (/board/ws). One route serves the page or, for htmx, its live fragment."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from ...accounts.authz import (
    DisplayPrincipal,
    StaffPrincipal,
    can_act_on_installation,
    can_view_installation,
)
from ...core import i18n
from ...core.i18n import _
from ...core.models import ActorKind, Child, Display, Group, Installation, Pickup, PickupStatus
from ...core.security import token_hash
from ...core.templating import render
from ...pickups import service
from ...pickups.attendance import check_in
from ...pickups.board import BoardState, ViewKey, load_board
from ...pickups.messages import refusal_message, status_label
from ...pickups.moves import WrongInstallation, move_to_group
from ...pickups.rules import STAFF_STEPS, RuleError
from ..context import csrf_form, is_htmx, page, services
from ..origin import origin_allowed
from ..sessions import require_staff, staff_principal


@dataclass(frozen=True)
class BoardChoice:
    """Which installation and group filter a board shows, after access checks."""

    installation: Installation
    installations: list[Installation]  # what the selector offers
    groups: list[Group]
    group_id: int | None
    group_param: str  # "mine", "all" or a group id, as it goes in URLs

    def query(self) -> str:
        return f"installation={self.installation.id}&group={self.group_param}"


def _not_found() -> HTTPException:
    # The same answer for "does not exist" and "belongs to someone else": nothing leaks.
    return HTTPException(404, _("Not found, or not yours to see."))


async def visible_installations(
    session: AsyncSession, principal: StaffPrincipal
) -> list[Installation]:
    query = select(Installation).where(
        col(Installation.organization_id) == principal.organization_id
    )
    if not principal.is_admin:
        query = query.where(col(Installation.id) == principal.installation_id)
    return list((await session.execute(query.order_by(col(Installation.name)))).scalars().all())


async def resolve_choice(
    session: AsyncSession,
    principal: StaffPrincipal | DisplayPrincipal,
    installation_param: str | None,
    group_param: str | None,
) -> BoardChoice:
    if isinstance(principal, DisplayPrincipal):
        installation = await session.get(Installation, principal.installation_id)
        if installation is None:
            raise _not_found()
        installations = [installation]
        group_param = "all" if principal.group_id is None else str(principal.group_id)
    else:
        installations = await visible_installations(session, principal)
        if not installations:
            raise _not_found()
        if installation_param:
            chosen = next((i for i in installations if str(i.id) == installation_param), None)
            if chosen is None:
                raise _not_found()
            installation = chosen
        else:
            installation = next(
                (i for i in installations if i.id == principal.installation_id), installations[0]
            )
    groups = list(
        (
            await session.execute(
                select(Group)
                .where(col(Group.installation_id) == installation.id)
                .order_by(col(Group.name))
            )
        )
        .scalars()
        .all()
    )
    home = principal.home_group_id if isinstance(principal, StaffPrincipal) else None
    home_here = home if any(g.id == home for g in groups) else None
    if not group_param:
        group_param = "mine" if home_here is not None else "all"
    if group_param == "mine":
        if home_here is None:
            group_param = "all"
            group_id = None
        else:
            group_id = home_here
    elif group_param == "all":
        group_id = None
    else:
        match = next((g for g in groups if str(g.id) == group_param), None)
        if match is None:
            raise _not_found()
        group_id = match.id
    return BoardChoice(installation, installations, groups, group_id, group_param)


def _view(choice: BoardChoice, interactive: bool) -> ViewKey:
    assert choice.installation.id is not None
    return ViewKey(choice.installation.id, choice.group_id, interactive, i18n.current_locale())


async def _state(session: AsyncSession, request: Request, choice: BoardChoice) -> BoardState:
    state = await load_board(session, choice.installation, services(request).clock.now())
    return state.for_view(choice.group_id)


def _live_response(
    request: Request, state: BoardState, choice: BoardChoice, toast: str | None = None
) -> HTMLResponse:
    body = render(
        "board/_live.html",
        state=state,
        view=_view(choice, True),
        choice=choice,
        toast=toast,
    )
    return HTMLResponse(body)


async def board_page(request: Request) -> Response:
    principal = await require_staff(request)
    async with services(request).db.session() as session:
        choice = await resolve_choice(
            session,
            principal,
            request.query_params.get("installation"),
            request.query_params.get("group"),
        )
        state = await _state(session, request, choice)
    if is_htmx(request):
        return _live_response(request, state, choice)
    home_group = next((g for g in choice.groups if g.id == principal.home_group_id), None)
    return page(
        request,
        "board/page.html",
        state=state,
        view=_view(choice, True),
        choice=choice,
        home_group=home_group,
        ws_url=f"/board/ws?{choice.query()}",
        toast=None,
    )


async def _display_principal(session: AsyncSession, token: str) -> DisplayPrincipal | None:
    display = (
        await session.execute(select(Display).where(col(Display.token_hash) == token_hash(token)))
    ).scalar_one_or_none()
    if display is None or display.revoked_at is not None:
        return None
    assert display.id is not None
    return DisplayPrincipal(
        display.id, display.organization_id, display.installation_id, display.group_id, display.name
    )


async def display_page(request: Request) -> Response:
    token = request.path_params["token"]
    async with services(request).db.session() as session:
        principal = await _display_principal(session, token)
        if principal is None:
            raise HTTPException(404, _("This display link does not exist or was revoked."))
        choice = await resolve_choice(session, principal, None, None)
        state = await _state(session, request, choice)
    return page(
        request,
        "display/page.html",
        state=state,
        view=_view(choice, False),
        choice=choice,
        display=principal,
        ws_url=f"/board/ws?display={token}",
        toast=None,
    )


# -- actions -------------------------------------------------------------------------------


async def _staff_choice(
    request: Request, session: AsyncSession, principal: StaffPrincipal
) -> BoardChoice:
    return await resolve_choice(
        session,
        principal,
        request.query_params.get("installation"),
        request.query_params.get("group"),
    )


def _int_param(request: Request, name: str) -> int:
    try:
        return int(request.path_params[name])
    except (KeyError, ValueError):
        raise _not_found() from None


async def pickup_status(request: Request) -> Response:
    """Appeler / Prêt / Départ. A lost race (another tablet was faster) is not an error: the
    board simply shows the current state, with a short note."""
    principal = await require_staff(request)
    form = await csrf_form(request)
    svc = services(request)
    try:
        target = PickupStatus(str(form.get("to", "")))
        expected = PickupStatus(str(form.get("from", "")))
    except ValueError:
        raise HTTPException(422, _("Unknown step.")) from None
    if target not in STAFF_STEPS:
        raise HTTPException(422, _("Unknown step."))
    pickup_id = _int_param(request, "pickup_id")
    async with svc.db.session() as session:
        choice = await _staff_choice(request, session, principal)
        pickup = await session.get(Pickup, pickup_id)
        installation = await session.get(Installation, pickup.installation_id) if pickup else None
        if (
            pickup is None
            or installation is None
            or not can_act_on_installation(principal, installation)
        ):
            raise _not_found()
        actor = service.Actor(
            ActorKind.STAFF,
            principal.user_id,
            principal.name,
            request.headers.get("user-agent", ""),
        )
        try:
            outcome = await service.advance(
                session, pickup, target=target, expected=expected, actor=actor, now=svc.clock.now()
            )
        except RuleError as error:
            raise HTTPException(409, refusal_message(error)) from None
        await session.commit()
        await svc.publish(outcome.events)
        toast = None
        if not outcome.changed:
            toast = _("Already done on another device: now {status}.").format(
                status=status_label(outcome.pickup.status)
            )
        state = await _state(session, request, choice)
    return _live_response(request, state, choice, toast)


async def _child_for_staff(
    session: AsyncSession, principal: StaffPrincipal, child_id: int
) -> tuple[Child, Installation]:
    child = await session.get(Child, child_id)
    installation = await session.get(Installation, child.installation_id) if child else None
    if (
        child is None
        or installation is None
        or not can_act_on_installation(principal, installation)
    ):
        raise _not_found()
    return child, installation


async def child_check_in(request: Request) -> Response:
    principal = await require_staff(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        choice = await _staff_choice(request, session, principal)
        child, installation = await _child_for_staff(
            session, principal, _int_param(request, "child_id")
        )
        events = await check_in(session, child, installation, svc.clock.now())
        await session.commit()
        await svc.publish(events)
        state = await _state(session, request, choice)
    return _live_response(request, state, choice)


async def child_move(request: Request) -> Response:
    """GET: the small menu of groups to move a child to. POST: move it."""
    principal = await require_staff(request)
    svc = services(request)
    async with svc.db.session() as session:
        child, installation = await _child_for_staff(
            session, principal, _int_param(request, "child_id")
        )
        if request.method == "GET":
            groups = (
                (
                    await session.execute(
                        select(Group)
                        .where(col(Group.installation_id) == installation.id)
                        .order_by(col(Group.name))
                    )
                )
                .scalars()
                .all()
            )
            return HTMLResponse(
                render(
                    "board/_move.html",
                    child=child,
                    groups=groups,
                    query=request.url.query,
                )
            )
        form = await csrf_form(request)
        choice = await _staff_choice(request, session, principal)
        try:
            group = await session.get(Group, int(str(form.get("group_id", ""))))
        except ValueError:
            group = None
        if group is None:
            raise _not_found()
        try:
            events = await move_to_group(session, child, group, svc.clock.now())
        except WrongInstallation:
            raise HTTPException(422, _("That group belongs to another installation.")) from None
        await session.commit()
        await svc.publish(events)
        state = await _state(session, request, choice)
    return _live_response(request, state, choice)


# -- WebSocket -----------------------------------------------------------------------------


async def board_socket(websocket: WebSocket) -> None:
    """Staff session or display token; Origin must be this server's own (or configured)."""
    svc = services(websocket)
    if not origin_allowed(websocket, svc.settings.allowed_origins):
        await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
        return
    display_token = websocket.query_params.get("display")
    async with svc.db.session() as session:
        principal: StaffPrincipal | DisplayPrincipal | None
        if display_token:
            principal = await _display_principal(session, display_token)
        else:
            principal = await staff_principal(websocket)
        if principal is None:
            await websocket.close(code=1008)
            return
        try:
            choice = await resolve_choice(
                session,
                principal,
                websocket.query_params.get("installation"),
                websocket.query_params.get("group"),
            )
        except HTTPException:
            await websocket.close(code=1008)
            return
        if not can_view_installation(principal, choice.installation):
            await websocket.close(code=1008)
            return
    await websocket.accept()
    view = _view(choice, isinstance(principal, StaffPrincipal))
    session_hash = principal.session_hash if isinstance(principal, StaffPrincipal) else None
    display_id = principal.display_id if isinstance(principal, DisplayPrincipal) else None
    # The socket lives for hours: keep only these small values, not the loaded rows (a
    # director's choice holds every installation of the organization).
    del choice, principal
    await svc.hub.serve(websocket, view, session_hash=session_hash, display_id=display_id)


routes = [
    Route("/board", board_page, methods=["GET"]),
    Route("/board/pickups/{pickup_id}/status", pickup_status, methods=["POST"]),
    Route("/board/children/{child_id}/check-in", child_check_in, methods=["POST"]),
    Route("/board/children/{child_id}/group", child_move, methods=["GET", "POST"]),
    Route("/display/{token}", display_page, methods=["GET"]),
    WebSocketRoute("/board/ws", board_socket),
]
