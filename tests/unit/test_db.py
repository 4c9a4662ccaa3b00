"""The database seam: hot writes (`Database.write`) commit as one transaction, roll back whole
on an error, and on SQLite wait for another connection's write lock without blocking the
event loop that connection may need to finish."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import Connection, text

from server.core.db import Database


def _add(*names: str) -> Any:
    """An INSERT of organizations with these names."""
    values = ", ".join(f"('{name}', 'UTC')" for name in names)
    return text(f"INSERT INTO organization (name, timezone) VALUES {values}")


def _count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM organization")).scalar_one())


async def test_a_write_commits_as_one_transaction(database_url: str) -> None:
    db = Database(database_url)
    try:
        before = await db.write(_count)

        def add_two(conn: Connection) -> None:
            conn.execute(_add("Un", "Deux"))

        await db.write(add_two)
        assert await db.write(_count) == before + 2
    finally:
        await db.dispose()


async def test_a_failed_write_keeps_nothing(database_url: str) -> None:
    db = Database(database_url)
    try:
        before = await db.write(_count)

        def add_then_fail(conn: Connection) -> None:
            conn.execute(_add("Trois"))
            raise ValueError("refused half-way")

        with pytest.raises(ValueError, match="half-way"):
            await db.write(add_then_fail)
        assert await db.write(_count) == before
    finally:
        await db.dispose()


async def test_a_write_waits_for_a_transaction_held_across_awaits(database_url: str) -> None:
    """A session of this same loop holds the write lock while it awaits (a roster import,
    say). The hot write must wait for it — not fail, not freeze the loop it needs."""
    db = Database(database_url)
    try:
        before = await db.write(_count)
        holding = asyncio.Event()
        release = asyncio.Event()

        async def long_import() -> None:
            async with db.session() as session:
                await session.execute(_add("Import"))
                holding.set()
                await release.wait()  # the loop must keep running for this to return
                await session.commit()

        importer = asyncio.create_task(long_import())
        await holding.wait()

        def add_one(conn: Connection) -> int:
            conn.execute(_add("Annonce"))
            return _count(conn)

        writer = asyncio.create_task(db.write(add_one))
        # While the writer waits, the loop is free: this very coroutine runs, then lets the
        # import finish. (PostgreSQL locks rows, not the file: there it need not wait.)
        await asyncio.sleep(0)  # wait-ok: one turn of the loop, not a wait for a condition
        if db.url.startswith("sqlite"):
            assert not writer.done()
        release.set()
        await importer
        seen = await writer
        # Both committed; on SQLite the write ran after the import, so it counted both.
        assert await db.write(_count) == before + 2
        if db.url.startswith("sqlite"):
            assert seen == before + 2
    finally:
        await db.dispose()
