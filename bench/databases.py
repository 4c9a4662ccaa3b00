"""Throwaway databases for one scenario: a SQLite file, or a PostgreSQL database that is
created empty and dropped afterwards."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import asyncpg

# Trust auth as user postgres on this machine (and CI's); override for another server.
POSTGRES_ADMIN_DSN = os.environ.get(
    "RELAIS_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def create_postgres(name: str) -> str:
    """An empty database `name`; returns its SQLAlchemy URL."""
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"


def drop_postgres(name: str) -> None:
    # FORCE: a server that was just stopped may still hold pooled connections.
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
