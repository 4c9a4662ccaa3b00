"""Database engine and sessions. SQLite (WAL, foreign keys) by default, PostgreSQL in production."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, DateTime, Engine, event, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")
# How long a hot write waits for another connection's write lock before giving up (503).
WRITE_LOCK_WAIT_S = 10.0


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants as naive UTC (portable across SQLite and PostgreSQL), returns aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _inline_engine(url: str) -> Engine | None:
    """SQLite's hot writes run on the event loop itself, without aiosqlite's thread hand-off
    (which costs ten times the statement). Safe because such a transaction never awaits: it
    takes the write lock at BEGIN IMMEDIATE, never waits for it (busy_timeout 0: `write`
    yields and retries instead, so the loop stays free for whoever holds it), and commits
    within microseconds. None for an in-memory database (each connection its own)."""
    if not url.startswith("sqlite") or ":memory:" in url or "mode=memory" in url:
        return None
    engine = create_sync_engine(url.replace("+aiosqlite", ""), connect_args={"timeout": 0})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_connection, record)
        dbapi_connection.execute("PRAGMA busy_timeout=0")
        dbapi_connection.isolation_level = None  # we say BEGIN ourselves (below)

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _is_busy(error: OperationalError) -> bool:
    return "locked" in str(error.orig) or "busy" in str(error.orig)


def create_engine(url: str) -> AsyncEngine:
    # hide_parameters: an error's text then names no value (names, emails) that logs keep.
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
    )


# The largest integer key each engine can compare with: PostgreSQL's INTEGER is 32 bits,
# SQLite's 64. Beyond it the driver raises (OverflowError, DataError) instead of finding nothing.
_INT_KEY_BOUND = {"postgresql": 2**31, "sqlite": 2**63}


class Session(AsyncSession):
    """An AsyncSession whose `get` answers None for an integer key no row can have (one too
    large for the column): an id typed into a URL is then "not found" like any unknown id,
    on every route, instead of a driver error."""

    async def get(self, entity: Any, ident: Any, **options: Any) -> Any:
        bound = _INT_KEY_BOUND.get(self.bind.dialect.name) if self.bind is not None else None
        keys = ident if isinstance(ident, tuple) else (ident,)
        if bound is not None and any(
            isinstance(key, int) and not -bound <= key < bound for key in keys
        ):
            return None
        return await super().get(entity, ident, **options)


class DatabaseUnavailable(Exception):
    """The database is not answering (restarting, unreachable, locked for too long): pages and
    the API say so with a 503 instead of a bare server error."""


def _is_unavailable(error: BaseException) -> bool:
    if isinstance(error, (OperationalError, InterfaceError)):
        return True
    if isinstance(error, DBAPIError):
        return error.connection_invalidated
    # asyncpg raises these unwrapped when it cannot connect or loses its socket.
    return isinstance(error, (ConnectionError, TimeoutError))


class Database:
    """Owns the engine; hands out short-lived sessions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self._sessions = async_sessionmaker(self.engine, class_=Session, expire_on_commit=False)
        self._inline = _inline_engine(url)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        try:
            async with self._sessions() as session:
                yield session
        except Exception as error:
            if _is_unavailable(error):
                raise DatabaseUnavailable(str(error)[:200]) from error
            raise

    async def write(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in one transaction and commit: the hot path's writes (Core statements,
        no ORM). On SQLite inline on the loop (see `_inline_engine`); elsewhere through the
        async engine's connection (on PostgreSQL, asyncpg round trips). An exception from
        `work` rolls everything back and propagates."""
        try:
            if self._inline is None:
                async with self.engine.begin() as conn:
                    return await conn.run_sync(work)
            return await self._write_inline(self._inline, work)
        except Exception as error:
            if _is_unavailable(error):
                raise DatabaseUnavailable(str(error)[:200]) from error
            raise

    async def _write_inline(self, engine: Engine, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WRITE_LOCK_WAIT_S
        pause = 0.001
        while True:
            try:
                with engine.begin() as conn:
                    return work(conn)
            except OperationalError as error:
                # Another connection holds the write lock (a long import, say): let it
                # finish — on this very loop, perhaps — then try again.
                if not _is_busy(error) or loop.time() > deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

    async def ping(self) -> None:
        """Raises when the database does not answer (health checks)."""
        async with self.session() as session:
            await session.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._inline is not None:
            self._inline.dispose()
