"""The presence board (/board): the page, or for htmx its live region.

A director sees every installation and picks one in the installation menu; the board
remembers that choice in a cookie, so /board (the sign-in's landing page, the administration's
"Back to the board") opens on the installation chosen last rather than the alphabetically first.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...core.i18n import _
from ...emergency.queries import load_roll
from ..boards import BoardChoice, board_page, resolve_choice
from ..context import is_htmx, is_secure, services
from ..sessions import require_staff
from .live import live_response

# The installation chosen last on this browser (an id; only ever used if still visible).
INSTALLATION_COOKIE = "relais_board_installation"
REMEMBER_FOR_SECONDS = 365 * 24 * 3600


async def staff_board(request: Request) -> Response:
    principal = await require_staff(request)
    svc = services(request)
    asked = request.query_params.get("installation")
    group = request.query_params.get("group")
    remembered = None if asked else request.cookies.get(INSTALLATION_COOKIE)
    async with svc.db.session() as session:
        choice: BoardChoice | None = None
        if remembered:
            try:
                choice = await resolve_choice(session, principal, remembered, group)
            except HTTPException:
                choice = None  # no longer theirs (or gone): the usual default
        if choice is None:
            choice = await resolve_choice(session, principal, asked, group)
        state = await choice.state(session, svc.clock.now())
        roll = await load_roll(session, choice.installation.id or 0)
    if is_htmx(request):
        return live_response(state, choice)
    home_group = next((g for g in choice.groups if g.id == principal.home_group_id), None)
    response = board_page(
        request,
        "board/page.html",
        choice,
        state,
        interactive=True,
        socket_query=choice.query(),
        home_group=home_group,
        roll=roll,
        now=state.now,
        role_label=role_label(principal.role),
    )
    if asked and len(choice.installations) > 1:
        response.set_cookie(
            INSTALLATION_COOKIE,
            str(choice.installation.id),
            max_age=REMEMBER_FOR_SECONDS,
            path=request.app.url_path_for("board.page"),
            httponly=True,
            samesite="lax",
            secure=is_secure(request),
        )
    return response


def role_label(role: str) -> str:
    """The staff member's role as the menu shows it beside their name."""
    labels = {
        "admin": _("Administrator"),
        "reception": _("Reception"),
        "educator": _("Educator"),
    }
    return labels.get(role, role)


routes: list[BaseRoute] = [Route("/board", staff_board, methods=["GET"], name="board.page")]
