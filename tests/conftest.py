"""Shared fixtures: a migrated SQLite database holding the demo data at a fixed moment, an
injectable clock, and the app built on them. Nothing here reads the real time of day. The
helpers tests call (sign-in, announcing, the test database…) are in tests/helpers.py."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from server import demo
from server.app import create_app
from server.core.clock import ManualClock
from server.core.db import Database
from server.core.migrate import upgrade
from server.core.settings import Settings
from tests import databases
from tests.databases import sqlite_url
from tests.helpers import T0, free_port, run_async
from tests.push_service import PushService, push_service
from tests.redis_server import RedisServer
from tests.smtp import Inbox


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "real_smtp: the app sends its email to the test's own SMTP server (`inbox`)"
    )


def pytest_report_header() -> str:
    return f"relais database engine: {databases.ENGINE}"


def pytest_sessionstart(session: pytest.Session) -> None:
    # Asked for PostgreSQL and it is not there: say so and stop, rather than pass on SQLite.
    if databases.using_postgres():
        problem = run_async(databases.postgres_reachable)
        if problem is not None:
            pytest.exit(f"RELAIS_TEST_DATABASE=postgresql but {problem}", returncode=3)


async def _load_demo(url: str) -> None:
    db = Database(url)
    async with db.session() as session:
        await demo.load_demo(session, T0)
        await session.commit()
    await db.dispose()


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Migrate once and load the demo once (a SQLite file or a PostgreSQL template
    database); each test gets its own copy."""
    if databases.using_postgres():
        url = run_async(lambda: databases.create_empty(databases.new_name("template")))
    else:
        url = sqlite_url(tmp_path_factory.mktemp("template") / "relais.db")
    # In a thread of its own: Alembic runs an event loop, and Playwright's may be running
    # here already (an end-to-end test that asks for a browser before a demo database).
    with ThreadPoolExecutor(max_workers=1) as aside:
        aside.submit(upgrade, url).result()
    run_async(lambda: _load_demo(url))
    yield url
    if databases.using_postgres():
        run_async(lambda: databases.drop(url))


@pytest.fixture(scope="session")
def postgres_copies(demo_database: str) -> Iterator[databases.Spares]:
    spares = databases.Spares(demo_database)
    yield spares
    spares.close()


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, not even the schema, on the engine under test."""
    if not databases.using_postgres():
        yield sqlite_url(tmp_path / "empty.db")
        return
    url = run_async(lambda: databases.create_empty(databases.new_name("empty")))
    yield url
    run_async(lambda: databases.drop(url))


@pytest.fixture
def database_url(
    demo_database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    if not databases.using_postgres():
        yield databases.copy_sqlite(Path(demo_database.split(":///", 1)[1]), tmp_path / "relais.db")
        return
    spares: databases.Spares = request.getfixturevalue("postgres_copies")
    url = spares.take()
    yield url
    spares.give_back(url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """What the app is built on; under `pytest.mark.real_smtp`, mail goes to `inbox`."""
    settings = Settings(database_url=database_url, secret_key="test-secret-key", var_dir=tmp_path)
    if request.node.get_closest_marker("real_smtp") is None:
        return settings
    inbox: Inbox = request.getfixturevalue("inbox")
    return dataclasses.replace(settings, smtp_url=inbox.url)


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Starlette:
    return create_app(settings, clock=clock, background=False)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """An HTTP + WebSocket client on the app (lifespan run), as a same-origin browser."""
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A throwaway redis-server of the test's own: killable without touching anyone else's."""
    server = RedisServer(free_port())
    run_async(server.start)
    yield server
    server.kill()


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    smtp = Inbox()
    smtp.controller.start()
    yield smtp
    smtp.controller.stop()


@pytest.fixture
def push_server() -> Iterator[PushService]:
    """A push service of the test's own (tests/push_service.py)."""
    with push_service() as running:
        yield running
