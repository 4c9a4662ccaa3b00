"""The database engine the suite runs on: SQLite files (the default) or PostgreSQL.

    RELAIS_TEST_DATABASE=postgresql make test-postgres

With PostgreSQL every test gets its own database, a copy (CREATE DATABASE … TEMPLATE) of one
migrated and demo-loaded template, dropped afterwards: the same isolation a copied SQLite file
gives, on the engine production runs.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import queue
import shutil
import threading
from pathlib import Path

import asyncpg

ENGINE = os.environ.get("RELAIS_TEST_DATABASE", "sqlite").lower()
# Where the suite creates its databases (trust auth on this machine and in CI).
POSTGRES_ADMIN_DSN = os.environ.get(
    "RELAIS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
_numbers = itertools.count()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def using_postgres() -> bool:
    if ENGINE not in {"sqlite", "postgresql"}:
        raise ValueError(f"RELAIS_TEST_DATABASE must be sqlite or postgresql, not {ENGINE!r}")
    return ENGINE == "postgresql"


def _asyncpg_url(dsn: str, name: str) -> str:
    base = dsn.rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


def _name(url: str) -> str:
    return url.rsplit("/", 1)[1]


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def postgres_reachable() -> str | None:
    """None when the server answers, else why not (said once, at the start of the run)."""
    try:
        connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        return f"PostgreSQL at {POSTGRES_ADMIN_DSN} is not reachable: {error}"
    await connection.close()
    return None


def new_name(purpose: str) -> str:
    return f"relais_test_{os.getpid()}_{purpose}_{next(_numbers)}"


async def create_empty(name: str) -> str:
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{name}"')
    return _asyncpg_url(POSTGRES_ADMIN_DSN, name)


async def create_copy(template_url: str, name: str) -> str:
    # FILE_COPY: for a small template, four times faster than PostgreSQL 15's default WAL_LOG
    # (0.05 s against 0.2 s a database here), which keeps the PostgreSQL run of the suite short.
    await _admin(f'CREATE DATABASE "{name}" TEMPLATE "{_name(template_url)}" STRATEGY FILE_COPY')
    return _asyncpg_url(POSTGRES_ADMIN_DSN, name)


async def drop(url: str) -> None:
    # FORCE: a server under test may still hold pooled connections as it shuts down.
    await _admin(f'DROP DATABASE IF EXISTS "{_name(url)}" WITH (FORCE)')


def copy_sqlite(template: Path, target: Path) -> str:
    shutil.copy(template, target)
    return sqlite_url(target)


class Spares:
    """Copies of the template made ahead, and dropped afterwards, by a thread of their own:
    PostgreSQL copies and drops a database while the previous test runs, so neither waits
    in the test's path (a copy forces a checkpoint: often longer than the test itself)."""

    def __init__(self, template_url: str, ready: int = 2) -> None:
        self.template_url = template_url
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=ready)
        self._to_drop: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._maker = threading.Thread(target=self._make, name="pg-spares", daemon=True)
        self._dropper = threading.Thread(target=self._drop, name="pg-drops", daemon=True)
        self._maker.start()
        self._dropper.start()

    def _make(self) -> None:
        while not self._stopping.is_set():
            try:
                url = asyncio.run(create_copy(self.template_url, new_name("t")))
            except BaseException as error:  # handed to the test that waits for it
                self._ready.put(error)
                return
            while not self._stopping.is_set():
                try:
                    self._ready.put(url, timeout=0.5)
                    break
                except queue.Full:
                    continue
            else:
                asyncio.run(drop(url))

    def _drop(self) -> None:
        while (url := self._to_drop.get()) is not None:
            asyncio.run(drop(url))

    def take(self) -> str:
        made = self._ready.get(timeout=120)
        if isinstance(made, BaseException):
            raise made
        return made

    def give_back(self, url: str) -> None:
        self._to_drop.put(url)

    def close(self) -> None:
        self._stopping.set()
        self._maker.join(30)
        while True:
            try:
                made = self._ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(made, str):
                self._to_drop.put(made)
        self._to_drop.put(None)
        self._dropper.join(120)
