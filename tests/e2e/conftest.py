"""End-to-end fixtures: a real uvicorn server on a free port (in a thread of the test process,
so the test can move its clock), Debian's Chromium driven by Playwright, real WebSockets."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.app import create_app
from server.core.clock import ManualClock
from server.core.db import Database
from server.core.models import Display, Installation
from server.core.security import token_hash
from server.core.settings import Settings
from server.demo_portraits import ensure_portraits
from tests.helpers import (
    API_TOKEN,
    PASSWORD,
    T0,
    free_port,
    in_db,
    run_async,
    serving_app,
    stop_process,
)
from tests.redis_server import RedisServer

CHROMIUM = "/usr/bin/chromium"

# Counts every sound the page starts (headless Chromium is muted, but play() still runs).
COUNT_CHIMES = """
window.__chimes = 0;
const originalPlay = HTMLMediaElement.prototype.play;
HTMLMediaElement.prototype.play = function () {
  window.__chimes += 1;
  return originalPlay.call(this);
};
"""


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--autoplay-policy=no-user-gesture-required",
        ],
    }


@dataclass
class LiveServer:
    url: str
    clock: ManualClock
    settings: Settings

    def sql(self, statement: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run one SQL statement on the server's database (SQLite or PostgreSQL), committed:
        how a test sets up or inspects what no page shows. Named parameters (`:name`)."""

        async def run(session: AsyncSession) -> list[tuple[Any, ...]]:
            result = await session.execute(text(statement), params)
            if isinstance(result, CursorResult) and not result.returns_rows:
                return []  # an UPDATE, INSERT or DELETE
            return [tuple(row) for row in result.all()]

        return in_db(self.settings.database_url, run)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=10) as client:
            return client.request(method, "/api/v1" + path, **kwargs)


def staff_cookie(url: str, email: str = "accueil@example.org") -> str:
    """Sign in over plain HTTP, as a board would before opening its socket: the Cookie header."""
    with httpx.Client(base_url=url) as web:
        web.get("/login")
        signed_in = web.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": web.cookies["relais_csrf"]},
        )
        assert signed_in.status_code == 303, signed_in.text
        return "; ".join(f"{name}={value}" for name, value in web.cookies.items())


@contextmanager
def serving(settings: Settings, clock: ManualClock) -> Iterator[LiveServer]:
    """A real uvicorn server on a free port, in a thread of the test process."""
    # A short tick: scheduled arrivals are promoted soon after the test moves the clock.
    fast = Settings(**{**settings.__dict__, "tick_seconds": 0.1})
    with serving_app(create_app(fast, clock=clock), ws="websockets-sansio") as url:
        yield LiveServer(url, clock, fast)


@pytest.fixture
def live_server(settings: Settings, clock: ManualClock) -> Iterator[LiveServer]:
    with serving(settings, clock) as server:
        yield server


@pytest.fixture
def new_tablet(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """Open a signed-in tablet (its own browser context: its own cookies and storage)."""
    contexts: list[BrowserContext] = []
    script_errors: list[str] = []

    def open_tablet(
        email: str, path: str = "/board", sound: bool = True, base: str | None = None
    ) -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-CA")
        contexts.append(context)
        context.add_init_script(COUNT_CHIMES)
        context.on("weberror", lambda error: script_errors.append(str(error.error)))
        page = context.new_page()
        page.goto(f"{base or live_server.url}/login?next={path}")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        if not path.startswith("/board"):
            return page
        expect(page.locator("#conn")).to_have_class("conn conn--live")
        if sound:
            page.click("#sound-toggle")
            expect(page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "true")
        return page

    yield open_tablet
    for context in contexts:
        context.close()
    assert not script_errors, f"JavaScript errors on the page: {script_errors}"


@pytest.fixture
def portraits(live_server: LiveServer) -> None:
    """The demo family's drawn portraits, approved, in this server's photo folder."""

    async def draw() -> None:
        db = Database(live_server.settings.database_url)
        try:
            async with db.session() as session:
                await ensure_portraits(session, live_server.settings.photos_dir)
                await session.commit()
        finally:
            await db.dispose()

    run_async(draw)


@pytest.fixture
def wall(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """A wall screen on a display link made for Pavillon des Érables (no sign-in)."""
    contexts: list[BrowserContext] = []

    def open_wall(width: int = 1920, height: int = 1080, locale: str = "fr-CA") -> Page:
        token = f"wall-{width}-{locale}"

        async def make_display(session: AsyncSession) -> None:
            era = (
                await session.execute(
                    select(Installation).where(col(Installation.external_id) == "ERA")
                )
            ).scalar_one()
            assert era.id is not None
            session.add(
                Display(
                    organization_id=era.organization_id,
                    installation_id=era.id,
                    name=token,
                    token_hash=token_hash(token),
                    created_at=live_server.clock.now(),
                )
            )

        in_db(live_server.settings.database_url, make_display)
        context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
        contexts.append(context)
        context.add_init_script(COUNT_CHIMES)
        page = context.new_page()
        page.clock.install()  # time flows; the test may jump it to turn pages
        lang = "?lang=en" if locale == "en" else ""
        page.goto(f"{live_server.url}/display/{token}{lang}")
        expect(page.locator("#conn")).to_have_class("conn conn--live")
        return page

    yield open_wall
    for context in contexts:
        context.close()


def sign_in_parent(page: Page, url: str, email: str = "parent@example.org") -> None:
    """Through the parent sign-in page, in French, to the family's page."""
    page.goto(f"{url}/parent/login")
    page.get_by_label("Courriel").fill(email)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/parent$"))


def chimes(page: Page) -> int:
    count: int = page.evaluate("window.__chimes")
    return count


class TcpProxy:
    """A real network cut between the browser and the server: `cut()` drops every open
    connection and refuses new ones until `restore()`."""

    def __init__(self, target_port: int) -> None:
        import asyncio

        self.target_port = target_port
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()
        self._open = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(5), "proxy did not start"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        import asyncio

        asyncio.set_event_loop(self._loop)

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not self._open:
                writer.transport.abort()
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            self._writers.update({writer, up_writer})
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
            self._writers.difference_update({writer, up_writer})

        async def main() -> None:
            server = await asyncio.start_server(handle, "127.0.0.1", self.port)
            self._ready.set()
            async with server:
                await self._stopping.wait()
            for writer in list(self._writers):
                writer.transport.abort()

        self._loop.run_until_complete(main())
        self._loop.close()

    def cut(self) -> None:
        def drop() -> None:
            self._open = False
            for writer in list(self._writers):
                writer.transport.abort()
            self._writers.clear()

        self._on_loop(drop)

    def restore(self) -> None:
        def reopen() -> None:
            self._open = True

        self._on_loop(reopen)

    def _on_loop(self, change: Callable[[], None]) -> None:
        """Make the change on the proxy's loop and return once it is made."""
        done = threading.Event()

        def run() -> None:
            change()
            done.set()

        self._loop.call_soon_threadsafe(run)
        assert done.wait(5), "the proxy did not answer"

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(5)


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[TcpProxy]:
    port = int(live_server.url.rsplit(":", 1)[1])
    tcp = TcpProxy(port)
    yield tcp
    tcp.close()


RELAIS = Path(sys.executable).parent / "relais"


@dataclass
class ServeProcess:
    """`relais serve` running as its own process: where it answers, its output."""

    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path


@contextlib.contextmanager
def relais_serve(
    database_url: str, redis_url: str, var_dir: Path, workers: int = 2, **env: str
) -> Iterator[ServeProcess]:
    """The real command, `relais serve --workers N`, on the demo (its Tuesday afternoon,
    whatever the hour this runs at), sharing Redis and the database; stopped afterwards."""
    port = free_port()
    environ = {
        **os.environ,
        "RELAIS_DATABASE_URL": database_url,
        "RELAIS_REDIS_URL": redis_url,
        "RELAIS_DEMO": "1",
        "RELAIS_CLOCK_OFFSET_SECONDS": str((T0 - datetime.now(UTC)).total_seconds()),
        "RELAIS_SECRET_KEY": "test-secret-key-for-relais-serve",
        "RELAIS_VAR_DIR": str(var_dir),
        "RELAIS_TICK_SECONDS": "0.2",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **env,
    }
    stdout, stderr = var_dir / "serve.out", var_dir / "serve.log"
    # Files, not pipes: a full pipe would stall the server.
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(RELAIS), "serve", "--workers", str(workers)], env=environ, stdout=out, stderr=err
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _attempt in range(600):  # migrations and the demo come first
            if process.poll() is not None:
                pytest.fail(f"relais serve exited with {process.returncode}:\n{stderr.read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(0.1)  # not up yet: wait on the process, not a sleep
        else:
            pytest.fail(f"relais serve --workers {workers} did not answer /healthz")
        yield ServeProcess(url, process, stdout, stderr)
    finally:
        stop_process(process, signal.SIGINT, 20)


@pytest.fixture
def two_workers(
    settings: Settings, clock: ManualClock, redis_server: RedisServer
) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two servers of one deployment: the same database and the same Redis, so an event made
    through one reaches what the other serves only through the fan-out."""
    shared = dataclasses.replace(settings, redis_url=redis_server.url)
    with serving(shared, clock) as first, serving(shared, clock) as second:
        yield first, second
