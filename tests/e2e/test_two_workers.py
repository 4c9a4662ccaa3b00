"""Two server processes' worth of workers sharing Redis: a board served by one sees, in under
a second, an announcement made through the other (the fan-out crosses workers)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from server.clock import ManualClock
from server.settings import Settings
from tests.conftest import PASSWORD, run_async
from tests.e2e.conftest import LiveServer, serving
from tests.redis_server import RedisServer, free_port

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    run_async(server.start)
    yield server
    server.kill()


@pytest.fixture
def two_workers(
    settings: Settings, clock: ManualClock, redis_server: RedisServer
) -> Iterator[tuple[LiveServer, LiveServer]]:
    shared = dataclasses.replace(settings, redis_url=redis_server.url)
    with serving(shared, clock) as first, serving(shared, clock) as second:
        yield first, second


def test_an_announcement_through_one_worker_reaches_a_board_on_the_other(
    two_workers: tuple[LiveServer, LiveServer], browser: Browser
) -> None:
    first, second = two_workers
    context = browser.new_context()
    board: Page = context.new_page()
    board.goto(f"{first.url}/login")
    board.fill("input[name=email]", "accueil@example.org")
    board.fill("input[name=password]", PASSWORD)
    board.click("button[type=submit]")
    expect(board.locator("#conn")).to_have_class("conn conn--live")

    started = time.monotonic()
    response = second.api(
        "POST",
        "/pickups",
        json={
            "child_id": "C-LEA",
            "guardian_id": "G-TREMBLAY",
            "mode": "gps",
            "latitude": 46.8139,
            "longitude": -71.2082,
        },
    )
    assert response.status_code == 201, response.text
    expect(board.locator(f"#pickup-{response.json()['id']}")).to_contain_text(
        "Léa Tremblay", timeout=1000
    )
    assert time.monotonic() - started < 1.0
    context.close()
