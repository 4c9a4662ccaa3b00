"""The board's live region as htmx swaps it in: the answer of the page's refresh and of every
button. Not a handler."""

from __future__ import annotations

from starlette.responses import HTMLResponse

from ...core.templating import render
from ...pickups.board import BoardState
from ..boards import BoardChoice


def live_response(state: BoardState, choice: BoardChoice, toast: str | None = None) -> HTMLResponse:
    return HTMLResponse(
        render("board/_live.html", state=state, view=choice.view(True), choice=choice, toast=toast)
    )
