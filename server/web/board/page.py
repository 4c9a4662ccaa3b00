"""The presence board (/board): the page, or for htmx its live region."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...emergency.queries import load_roll
from ..boards import board_page, requested_choice
from ..context import is_htmx, services
from ..sessions import require_staff
from .live import live_response


async def staff_board(request: Request) -> Response:
    principal = await require_staff(request)
    svc = services(request)
    async with svc.db.session() as session:
        choice = await requested_choice(request, session, principal)
        state = await choice.state(session, svc.clock.now())
        roll = await load_roll(session, choice.installation.id or 0)
    if is_htmx(request):
        return live_response(state, choice)
    home_group = next((g for g in choice.groups if g.id == principal.home_group_id), None)
    return board_page(
        request,
        "board/page.html",
        choice,
        state,
        interactive=True,
        socket_query=choice.query(),
        home_group=home_group,
        roll=roll,
        now=state.now,
    )


routes: list[BaseRoute] = [Route("/board", staff_board, methods=["GET"], name="board.page")]
