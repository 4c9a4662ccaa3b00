"""Migration 0008 (one sign-in table, one one-time-link table): upgrading copies the three
kinds of sessions and the two kinds of links over; downgrading puts them back where they
were. Nobody is signed out by either, and no link stops working."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alembic import command
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server import demo
from server.accounts import one_time_links
from server.core.migrate import alembic_config
from server.core.models import (
    AccountKind,
    CenterAccount,
    Guardian,
    OneTimeLink,
    SignInSession,
    StaffUser,
)
from tests.helpers import in_db

T0 = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
SESSION_FIELDS = ("token_hash", "kind", "account_id", "created_at", "expires_at", "user_agent")
LINK_FIELDS = ("kind", "account_id", "purpose", "token_hash", "created_at", "expires_at", "used_at")


def _first_id(rows: Any) -> int:
    return int(rows.scalars().first())


async def _sign_in_everyone(session: AsyncSession) -> None:
    """A session of each kind and a link of each kind (one of them used), at head."""
    staff = _first_id(await session.execute(select(col(StaffUser.id)).order_by(col(StaffUser.id))))
    parent = _first_id(await session.execute(select(col(Guardian.id)).order_by(col(Guardian.id))))
    centre = _first_id(
        await session.execute(select(col(CenterAccount.id)).order_by(col(CenterAccount.id)))
    )
    day = timedelta(days=1)
    await demo.signed_in(session, "staff", [staff, staff], T0, day, "tablet")
    await demo.signed_in(session, "parent", [parent], T0, timedelta(days=60), "phone")
    await demo.signed_in(session, "centre", [centre], T0, day)
    await one_time_links.issue(session, AccountKind.STAFF, staff, "invite", day, T0)
    await one_time_links.issue(session, AccountKind.PARENT, parent, "activate", day, T0)
    await one_time_links.issue(session, AccountKind.PARENT, parent, "reset", day, T0)
    used = (
        await session.execute(select(OneTimeLink).where(col(OneTimeLink.purpose) == "reset"))
    ).scalar_one()
    assert await one_time_links.spend(session, used, T0 + timedelta(minutes=5))


async def _rows(session: AsyncSession) -> tuple[set[tuple[Any, ...]], set[tuple[Any, ...]]]:
    sessions = (await session.execute(select(SignInSession))).scalars()
    links = (await session.execute(select(OneTimeLink))).scalars()
    return (
        {tuple(getattr(s, f) for f in SESSION_FIELDS) for s in sessions},
        {tuple(getattr(link, f) for f in LINK_FIELDS) for link in links},
    )


async def _old_tables(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
    """Who owns each row of the tables 0008 replaces (read with plain SQL: no model left)."""
    queries = {
        "staff_session": "SELECT user_id, user_agent FROM staff_session",
        "guardian_session": "SELECT guardian_id, user_agent FROM guardian_session",
        "center_session": "SELECT center_account_id FROM center_session",
        "staff_token": "SELECT staff_user_id, purpose, used_at IS NULL FROM staff_token",
        "account_token": (
            "SELECT guardian_id, purpose, used_at IS NULL FROM account_token ORDER BY purpose"
        ),
    }
    return {
        table: [tuple(row) for row in (await session.execute(text(query))).all()]
        for table, query in queries.items()
    }


def test_downgrade_puts_sessions_and_links_back_and_upgrade_copies_them(
    database_url: str,
) -> None:
    in_db(database_url, _sign_in_everyone)
    before = in_db(database_url, _rows)
    sessions, links = before
    assert {row[1] for row in sessions} == {"staff", "parent", "centre"}
    assert len(links) == 3

    command.downgrade(alembic_config(database_url), "0007")
    old = in_db(database_url, _old_tables)
    staff = next(row[2] for row in sessions if row[1] == "staff")
    parent = next(row[2] for row in sessions if row[1] == "parent")
    centre = next(row[2] for row in sessions if row[1] == "centre")
    assert old["staff_session"] == [(staff, "tablet"), (staff, "tablet")]
    assert old["guardian_session"] == [(parent, "phone")]
    assert old["center_session"] == [(centre,)]
    assert old["staff_token"] == [(staff, "invite", True)]
    assert old["account_token"] == [(parent, "activate", True), (parent, "reset", False)]

    command.upgrade(alembic_config(database_url), "head")
    # The same sessions (token, kind, account, times, device) and links, nothing lost.
    assert in_db(database_url, _rows) == before
