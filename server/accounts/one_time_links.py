"""What every one-time link (a parent's activation or reset, a staff invitation) shares:
spending it exactly once, voiding the owner's other links, and the new-password rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.i18n import _
from ..core.models import AccountToken, StaffToken

MAX_PASSWORD_LENGTH = 256


async def spend(
    session: AsyncSession,
    table: type[AccountToken] | type[StaffToken],
    owner_column: Any,
    token_id: int,
    owner_id: int,
    now: datetime,
) -> bool:
    """Mark the link used if nobody did first (compare-and-set: two taps, two tabs), then
    void the owner's other live links. False when it was already spent or had expired.
    The caller commits."""
    spent = await session.execute(
        update(table)
        .where(
            col(table.id) == token_id,
            col(table.used_at).is_(None),
            col(table.expires_at) > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.execute(
        update(table)
        .where(
            owner_column == owner_id,
            col(table.used_at).is_(None),
            col(table.expires_at) > now,
        )
        .values(expires_at=now)
    )
    return True


def password_problem(password: str, confirmation: str, email: str, min_length: int) -> str | None:
    """Why this new password cannot be used, in plain words (None: it can)."""
    if len(password) < min_length:
        return _("Choose a password of at least {n} characters.").format(n=min_length)
    if len(password) > MAX_PASSWORD_LENGTH:
        return _("That password is too long: {n} characters at most.").format(n=MAX_PASSWORD_LENGTH)
    if password.strip().lower() == email.strip().lower():
        return _("Your password cannot be your email address.")
    if password != confirmation:
        return _("The two passwords are not the same. Type the same password twice.")
    return None
