"""What the staff board (web/board) and the wall display (web/display) share: which board a
principal may see (installation, group filter), its view and its state. Not a handler."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse

from ..accounts.authz import DisplayPrincipal, StaffPrincipal
from ..core import i18n
from ..core.models import Group, Installation
from ..pickups.board import BoardState, ViewKey, load_board
from ..roster import queries as roster
from .context import page
from .limits import not_found


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

    def view(self, interactive: bool) -> ViewKey:
        """The view a socket of this board joins (staff: interactive; a display: not)."""
        assert self.installation.id is not None
        return ViewKey(self.installation.id, self.group_id, interactive, i18n.current_locale())

    async def state(self, session: AsyncSession, now: datetime) -> BoardState:
        """The board as it is now, narrowed to the group filter."""
        state = await load_board(session, self.installation, now)
        return state.for_view(self.group_id)


async def resolve_choice(
    session: AsyncSession,
    principal: StaffPrincipal | DisplayPrincipal,
    installation_param: str | None,
    group_param: str | None,
) -> BoardChoice:
    """The board `principal` asks for (a display: the one its link names); an installation
    or group they may not see is the same 404 as an unknown one."""
    if isinstance(principal, DisplayPrincipal):
        installation = await session.get(Installation, principal.installation_id)
        if installation is None:
            raise not_found()
        installations = [installation]
        group_param = "all" if principal.group_id is None else str(principal.group_id)
    else:
        installations = await roster.visible_installations(session, principal)
        if not installations:
            raise not_found()
        if installation_param:
            chosen = next((i for i in installations if str(i.id) == installation_param), None)
            if chosen is None:
                raise not_found()
            installation = chosen
        else:
            installation = next(
                (i for i in installations if i.id == principal.installation_id), installations[0]
            )
    assert installation.id is not None
    groups = await roster.groups(session, [installation.id])
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
            raise not_found()
        group_id = match.id
    return BoardChoice(installation, installations, groups, group_id, group_param)


async def requested_choice(
    conn: HTTPConnection, session: AsyncSession, principal: StaffPrincipal | DisplayPrincipal
) -> BoardChoice:
    """The board a page, a button or a socket names in its query (?installation=&group=)."""
    return await resolve_choice(
        session,
        principal,
        conn.query_params.get("installation"),
        conn.query_params.get("group"),
    )


def board_page(
    request: Request,
    template: str,
    choice: BoardChoice,
    state: BoardState,
    *,
    interactive: bool,
    socket_query: str,
    **context: Any,
) -> HTMLResponse:
    """A board's whole page (staff or wall), whose socket asks for `socket_query`."""
    return page(
        request,
        template,
        state=state,
        view=choice.view(interactive),
        choice=choice,
        ws_url=f"{request.app.url_path_for('board.socket')}?{socket_query}",
        toast=None,
        **context,
    )
