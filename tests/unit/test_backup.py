"""`relais backup` and `relais restore`, the real commands on the engine under test (SQLite's
online backup API; pg_dump/pg_restore): a busy demo, backed up while it serves and takes
announcements, restored into an empty database, is the same in every table; a restore
refuses a backup of a newer schema and a database that is not empty, and says so."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

import server.core.models  # noqa: F401 — every table on the metadata
from server.app import create_app
from server.core.clock import ManualClock
from server.core.settings import Settings
from tests import databases
from tests.helpers import T0, announce, api_headers, in_db, run_async, serving_app

RELAIS = Path(sys.executable).parent / "relais"
API = api_headers()
AT_THE_DOOR: dict[str, Any] = {"mode": "gps", "latitude": 46.8139, "longitude": -71.2082}


def relais(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env["RELAIS_DATABASE_URL"] = database_url
    return subprocess.run(
        [str(RELAIS), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def every_table(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows, in a stable order."""

    async def read(session: AsyncSession) -> dict[str, list[tuple[Any, ...]]]:
        tables: dict[str, list[tuple[Any, ...]]] = {}
        for name in [*sorted(SQLModel.metadata.tables), "alembic_version"]:
            rows = (await session.execute(text(f'SELECT * FROM "{name}"'))).all()
            tables[name] = sorted((tuple(row) for row in rows), key=repr)
        return tables

    return in_db(database_url, read)


def at_revision(database_url: str, revision: str) -> None:
    """Make the database say it is at `revision` (as a newer or this release's would)."""

    async def mark(session: AsyncSession) -> None:
        await session.execute(
            text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision}
        )

    in_db(database_url, mark)


@pytest.fixture
def another_empty_database(tmp_path: Path) -> Iterator[str]:
    if not databases.using_postgres():
        yield databases.sqlite_url(tmp_path / "other.db")
        return
    url = run_async(lambda: databases.create_empty(databases.new_name("other")))
    yield url
    run_async(lambda: databases.drop(url))


@pytest.fixture
def busy_demo(settings: Settings, clock: ManualClock) -> Iterator[str]:
    """The demo serving, with the afternoon's rush in it: announcements, calls, departures."""
    with serving_app(create_app(settings, clock=clock, background=False)) as url:
        with httpx.Client(base_url=url) as web:
            children = web.get(
                "/api/v1/children?installation_id=ERA",
                headers=API,
            ).json()
            present = [c for c in children if c["present"] and c["guardian_ids"]]
            for child in present[:12]:
                pickup = announce(web, child["id"], child["guardian_ids"][0], **AT_THE_DOOR)
                for status in ("called", "ready", "departed")[: pickup["id"] % 4]:
                    answer = web.post(
                        f"/api/v1/pickups/{pickup['id']}/status",
                        headers=API,
                        json={"status": status},
                    )
                    assert answer.status_code == 200, answer.text
        yield url


def test_a_busy_demo_backed_up_while_serving_restores_table_for_table(
    busy_demo: str,
    settings: Settings,
    empty_database_url: str,
    another_empty_database: str,
    tmp_path: Path,
) -> None:
    source = settings.database_url
    file = tmp_path / "relais.backup"

    # A backup taken while the server takes announcements: whole and consistent.
    done = threading.Event()

    def keep_announcing() -> None:
        with httpx.Client(base_url=busy_demo) as web:
            children = web.get(
                "/api/v1/children?installation_id=BOU",
                headers=API,
            ).json()
            for child in [c for c in children if c["present"] and c["guardian_ids"]]:
                if done.is_set():
                    break
                announce(web, child["id"], child["guardian_ids"][0], mode="eta", eta="17:30")

    writer = threading.Thread(target=keep_announcing)
    writer.start()
    during = relais(source, "backup", str(file))
    done.set()
    writer.join()
    assert during.returncode == 0, during.stderr
    assert relais(another_empty_database, "restore", str(file)).returncode == 0
    restored = every_table(another_empty_database)
    assert restored["pickup"] and restored["alembic_version"]

    # Once quiet (still serving), backed up again: the restore is the source, table for table.
    quiet = relais(source, "backup", str(file))
    assert quiet.returncode == 0, quiet.stderr
    assert f"Backup written to {file}." in quiet.stdout
    restore = relais(empty_database_url, "restore", str(file))
    assert restore.returncode == 0, restore.stderr
    assert "Restored" in restore.stdout
    expected = every_table(source)
    assert sum(len(rows) for rows in expected.values()) > 200  # a busy demo, not an empty one
    assert every_table(empty_database_url) == expected

    # And it serves what the source serves.
    restored_settings = Settings(
        database_url=empty_database_url, secret_key="test-secret-key", var_dir=tmp_path
    )
    served = create_app(restored_settings, clock=ManualClock(T0), background=False)
    with serving_app(served) as url:
        pickups = httpx.get(f"{url}/api/v1/pickups", headers=API)
        assert pickups.status_code == 200
        assert pickups.json() == httpx.get(f"{busy_demo}/api/v1/pickups", headers=API).json()


def test_restore_refuses_a_newer_schema_and_a_database_that_is_not_empty(
    database_url: str, empty_database_url: str, tmp_path: Path
) -> None:
    file = tmp_path / "newer.backup"

    at_revision(database_url, "0099_future")
    assert relais(database_url, "backup", str(file)).returncode == 0
    refused = relais(empty_database_url, "restore", str(file))
    assert refused.returncode == 2
    assert "this backup was made by a newer release of Relais (schema 0099_future" in (
        refused.stderr
    )

    async def revision(session: AsyncSession) -> Any:
        return await session.execute(text("SELECT count(*) FROM alembic_version"))

    # Nothing was written: the target is still empty.
    with pytest.raises(Exception, match="alembic_version"):
        in_db(empty_database_url, revision)

    # Not empty: never overwritten.
    current = tmp_path / "current.backup"

    at_revision(database_url, "0008")
    assert relais(database_url, "backup", str(current)).returncode == 0
    over = relais(database_url, "restore", str(current))
    assert over.returncode == 2
    assert "is not empty: a restore never overwrites" in over.stderr


def test_a_backup_of_the_other_engine_is_refused(database_url: str, tmp_path: Path) -> None:
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("hello")
    refused = relais(database_url, "restore", str(not_a_backup))
    assert refused.returncode == 2
    assert "is not a" in refused.stderr and "backup" in refused.stderr
