"""Every email written (/dev/outbox), links clickable: a demo's convenience."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlmodel import col
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...core.i18n import _
from ...core.models import OutboxMessage
from ..context import page, services
from ..context import public_base_url as public_base_url
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
        raise HTTPException(404, _("Not found, or not yours to see."))
    await require_admin(request)
    async with svc.db.session() as session:
        rows = (
            (
                await session.execute(
                    select(OutboxMessage)
                    .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
                    .limit(OUTBOX_SHOWN)
                )
            )
            .scalars()
            .all()
        )
    messages = [
        {
            "id": m.id,
            "to": m.to,
            "subject": m.subject,
            "created_at": m.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            "pieces": _with_links(m.body),
        }
        for m in rows
    ]
    return page(request, "dev/outbox.html", messages=messages)


routes: list[BaseRoute] = [Route("/dev/outbox", outbox, methods=["GET"])]
