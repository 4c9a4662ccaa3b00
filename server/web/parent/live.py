"""The parent page's live status (/parent/ws): the family's children as the hub sees them."""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from ...core import i18n
from ...pickups.family import FamilyView, family_children
from ..context import services
from ..origin import origin_allowed
from ..sessions import guardian_principal


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


routes: list[BaseRoute] = [WebSocketRoute("/parent/ws", parent_socket, name="parent.socket")]
