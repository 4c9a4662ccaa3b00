"""Finding who a link or a token is: the principals that are not a signed-in session (a wall
display's link, an integration's API token). None when unknown or revoked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Connection, Table, bindparam, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import ApiToken, Display
from ..core.security import token_hash
from .authz import ApiPrincipal, DisplayPrincipal


async def display_principal(session: AsyncSession, token: str) -> DisplayPrincipal | None:
    """The wall display whose link carries `token`."""
    query = select(Display).where(col(Display.token_hash) == token_hash(token))
    display = (await session.scalars(query)).one_or_none()
    if display is None or display.revoked_at is not None:
        return None
    assert display.id is not None
    return DisplayPrincipal(
        display.id, display.organization_id, display.installation_id, display.group_id, display.name
    )


_API_TOKEN = cast(Table, inspect(ApiToken).local_table)
_TOKEN_LOOKUP = select(
    _API_TOKEN.c.id,
    _API_TOKEN.c.organization_id,
    _API_TOKEN.c.name,
    _API_TOKEN.c.revoked_at,
    _API_TOKEN.c.last_used_at,
).where(_API_TOKEN.c.token_hash == bindparam("token_hash"))
_RECORD_USE = (
    update(_API_TOKEN)
    .where(_API_TOKEN.c.id == bindparam("token_id"))
    .values(last_used_at=bindparam("at"))
)


def _same_minute(a: datetime, b: datetime) -> bool:
    """Whether two instants read the same on a clock showing minutes (every time zone in use
    is offset by whole minutes, so UTC decides)."""
    return a.astimezone(UTC).replace(second=0, microsecond=0) == b.astimezone(UTC).replace(
        second=0, microsecond=0
    )


def api_principal(conn: Connection, hashed: str, now: datetime) -> ApiPrincipal | None:
    """The API token whose hash is `hashed`, inside the caller's transaction (its last use is
    recorded there)."""
    row = conn.execute(_TOKEN_LOOKUP, {"token_hash": hashed}).first()
    if row is None or row.revoked_at is not None:
        return None
    # The last use is shown to the minute: write it once a minute at most, not per call.
    if row.last_used_at is None or not _same_minute(row.last_used_at, now):
        conn.execute(_RECORD_USE, {"token_id": row.id, "at": now})
    return ApiPrincipal(row.id, row.organization_id, row.name)
