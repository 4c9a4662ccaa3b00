"""Shared fixtures: a migrated SQLite database holding the demo data at a fixed moment, an
injectable clock, and the app built on them. Nothing here reads the real time of day."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
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
from tests.redis_server import RedisServer, free_port
from tests.smtp import Inbox

QUEBEC = ZoneInfo("America/Toronto")
# A Tuesday afternoon in Québec: the moment every test starts at.
T0 = datetime(2026, 11, 24, 16, 0, tzinfo=QUEBEC)
T = TypeVar("T")
PASSWORD = demo.DEMO_PASSWORD
API_TOKEN = demo.DEMO_API_TOKEN


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
    upgrade(url)
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
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret-key", var_dir=tmp_path)


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Starlette:
    return create_app(settings, clock=clock, background=False)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    """An HTTP + WebSocket client on the app (lifespan run), as a same-origin browser."""
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def another_browser(client: TestClient) -> TestClient:
    """A second browser (its own cookies) on the same running app. It shares the first
    client's event loop: pooled database connections (asyncpg) belong to one loop."""
    other = TestClient(client.app, base_url=str(client.base_url))
    other.portal = client.portal
    return other


def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    """Sign in as a browser would: fetch the form (CSRF cookie), post it."""
    page = client.get("/login")
    assert page.status_code == 200
    token = client.cookies.get("relais_csrf")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": "/board"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def csrf(client: TestClient) -> dict[str, str]:
    """The header htmx sends with every board button press."""
    if client.cookies.get("relais_csrf") is None:
        client.get("/login")
    return {"X-CSRF-Token": client.cookies.get("relais_csrf") or ""}


def in_db(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed session on the test database (its own engine and loop):
    how a test sets up or inspects what the app cannot be asked for."""

    async def run() -> T:
        db = Database(database_url)
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return run_async(run)


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a fresh loop in its own thread: safe even while
    Playwright's synchronous API keeps a loop running in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()  # type: ignore[arg-type]


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


def api_headers(token: str = API_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
