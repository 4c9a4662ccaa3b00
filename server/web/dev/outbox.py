"""Every email written (/dev/outbox), links clickable: a demo's convenience."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...core.i18n import format_datetime
from ...core.mail import outbox_messages
from ..context import page, services
from ..limits import not_found
from ..routing import get
from ..sessions import require_admin

OUTBOX_SHOWN = 100


_URL = re.compile(r"https?://[^\s<>\"']+")


def _with_links(body: str) -> list[tuple[str, bool]]:
    """The body cut into (text, is_link) pieces, so the template can make links clickable
    while escaping everything."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _URL.finditer(body):
        pieces.append((body[position : match.start()], False))
        pieces.append((match.group(0), True))
        position = match.end()
    pieces.append((body[position:], False))
    return [piece for piece in pieces if piece[0]]


async def outbox(request: Request) -> Response:
    """Every email written, links included: a demo's convenience, for its director only."""
    svc = services(request)
    if not svc.settings.demo:
        raise not_found()
    await require_admin(request)
    async with svc.db.session() as session:
        rows = await outbox_messages(session, OUTBOX_SHOWN)
    messages = [
        {
            "id": m.id,
            "to": m.to,
            "subject": m.subject,
            "created_at": f"{format_datetime(m.created_at, 'UTC')} UTC",
            "pieces": _with_links(m.body),
        }
        for m in rows
    ]
    return page(request, "dev/outbox.html", messages=messages)


routes: list[BaseRoute] = [get("/dev/outbox", outbox, "dev.outbox")]
