"""The wall display's page: the board of the installation (and group) its link names; the
board's socket (web/board/socket.py) keeps it live."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...accounts.queries import display_principal
from ...core.i18n import _
from ...emergency.queries import load_roll
from ..boards import board_page, resolve_choice
from ..context import services


async def display_page(request: Request) -> Response:
    token = request.path_params["token"]
    svc = services(request)
    async with svc.db.session() as session:
        principal = await display_principal(session, token)
        if principal is None:
            raise HTTPException(404, _("This display link does not exist or was revoked."))
        choice = await resolve_choice(session, principal, None, None)
        state = await choice.state(session, svc.clock.now())
        roll = await load_roll(session, choice.installation.id or 0)
    return board_page(
        request,
        "display/page.html",
        choice,
        state,
        interactive=False,
        socket_query=f"display={token}",
        display=principal,
        roll=roll,
        now=state.now,
    )


routes: list[BaseRoute] = [
    Route("/display/{token}", display_page, methods=["GET"], name="display.page")
]
