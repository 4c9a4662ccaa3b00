"""The board's WebSocket (/board/ws): a staff board or a wall display, kept live by the hub."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from ...accounts.authz import DisplayPrincipal, StaffPrincipal, can_view_installation
from ...accounts.queries import display_principal
from ..boards import requested_choice
from ..context import services
from ..origin import origin_allowed
from ..sessions import staff_principal


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
            principal = await display_principal(session, display_token)
        else:
            principal = await staff_principal(websocket)
        if principal is None:
            await websocket.close(code=1008)
            return
        try:
            choice = await requested_choice(websocket, session, principal)
        except HTTPException:
            await websocket.close(code=1008)
            return
        if not can_view_installation(principal, choice.installation):
            await websocket.close(code=1008)
            return
    await websocket.accept()
    view = choice.view(isinstance(principal, StaffPrincipal))
    session_hash = principal.session_hash if isinstance(principal, StaffPrincipal) else None
    display_id = principal.display_id if isinstance(principal, DisplayPrincipal) else None
    # The socket lives for hours: keep only these small values, not the loaded rows (a
    # director's choice holds every installation of the organization).
    del choice, principal
    await svc.hub.serve(websocket, view, session_hash=session_hash, display_id=display_id)


routes: list[BaseRoute] = [WebSocketRoute("/board/ws", board_socket, name="board.socket")]
