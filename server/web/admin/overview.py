"""/admin/overview: the director's view of every installation of the organization at once.

Each installation's live alerts (child, group, step, minutes waiting since the alert, on the
server's clock; the longest wait first) and its counts (children present, alerts, upcoming,
departed today). The page is live: it opens /admin/overview/ws (`overview_socket`) and the
worker's overview feed (`server/realtime/overview.py`) pushes an installation's card again
within half a second of any change there, whichever worker made it. No polling. Read-only:
the buttons stay on the boards.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from ...core import i18n
from ...core.templating import render
from ...realtime.overview import load_overview
from ...roster import queries as roster
from ..context import SECURITY_HEADERS, is_htmx, services
from ..origin import origin_allowed
from ..routing import get
from ..sessions import require_admin, staff_principal
from .common import admin_page


async def overview_page(request: Request) -> Response:
    principal = await require_admin(request)
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        installations = await roster.installations(session, principal.organization_id)
        overviews = [await load_overview(session, i, now) for i in installations]
    if is_htmx(request):  # the live region only: one card per installation
        body = "".join(
            render("admin/_overview_installation.html", overview=o, oob=False) for o in overviews
        )
        return HTMLResponse(body, headers=SECURITY_HEADERS)
    return admin_page(request, "admin/overview.html", "overview", overviews=overviews)


async def overview_socket(websocket: WebSocket) -> None:
    """The overview's live cards: a director of the organization, from our own Origin. The
    installations are the director's organization's, whatever the URL says."""
    svc = services(websocket)
    if not origin_allowed(websocket, svc.settings.allowed_origins):
        await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
        return
    principal = await staff_principal(websocket)
    if principal is None or not principal.is_admin:
        await websocket.close(code=1008)
        return
    async with svc.db.session() as session:
        installations = await roster.installations(session, principal.organization_id)
    installation_ids = [i.id for i in installations if i.id is not None]
    session_hash = principal.session_hash
    del installations, principal  # the socket lives for hours: keep no loaded rows
    await websocket.accept()
    await svc.overview.serve(websocket, installation_ids, i18n.current_locale(), session_hash)


routes: list[BaseRoute] = [
    get("/admin/overview", overview_page, "admin.overview"),
    WebSocketRoute("/admin/overview/ws", overview_socket, name="admin.overview_socket"),
]
