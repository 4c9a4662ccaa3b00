"""/admin/overview: the director's view of every installation of the organization at once.

Each installation's live alerts (child, group, step, minutes waiting since the alert, on the
server's clock) and its counts (children present, alerts, upcoming, departed today). The page
refreshes its live region by htmx polling every few seconds: one route serves the page or,
for htmx, the region alone. Read-only: the buttons stay on the boards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute

from ...core.templating import render
from ...pickups.board import AlertItem, BoardState, load_board
from ...pickups.rules import waiting_minutes
from ...roster import queries as roster
from ..context import SECURITY_HEADERS, is_htmx, services
from ..routing import get
from ..sessions import require_admin
from .common import admin_page

POLL_SECONDS = 5


@dataclass(frozen=True)
class InstallationOverview:
    state: BoardState
    # Each live alert, with the whole minutes its parent has waited since it was raised.
    alerts: tuple[tuple[AlertItem, int], ...]
    present: int
    departed: int

    @property
    def installation_id(self) -> int:
        return self.state.installation_id

    @property
    def upcoming(self) -> int:
        return len(self.state.upcoming)


def summarize(state: BoardState, now: datetime) -> InstallationOverview:
    return InstallationOverview(
        state=state,
        alerts=tuple((a, waiting_minutes(a.announced_at, now)) for a in state.alerts),
        present=sum(len(s.present) for s in state.sections),
        departed=sum(len(s.departed) for s in state.sections),
    )


async def overview_page(request: Request) -> Response:
    principal = await require_admin(request)
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        installations = await roster.installations(session, principal.organization_id)
        overviews = [summarize(await load_board(session, i, now), now) for i in installations]
    if is_htmx(request):  # the polled region only: one card per installation
        body = "".join(
            render("admin/_overview_installation.html", overview=o, now=now) for o in overviews
        )
        return HTMLResponse(body, headers=SECURITY_HEADERS)
    return admin_page(
        request,
        "admin/overview.html",
        "overview",
        overviews=overviews,
        now=now,
        poll_seconds=POLL_SECONDS,
    )


routes: list[BaseRoute] = [get("/admin/overview", overview_page, "admin.overview")]
