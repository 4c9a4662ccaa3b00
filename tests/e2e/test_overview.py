"""The director's overview, live in a real browser: an arrival announced through the API and a
step pressed on a board appear on the open overview within a second, by themselves, over the
overview's WebSocket (no reload, no polling), also when the change is made through another
worker (Redis carries it)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from server.core.clock import ManualClock
from server.core.settings import Settings
from tests.e2e.conftest import LiveServer, serving
from tests.helpers import PASSWORD
from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

AT_THE_DOOR = {"mode": "gps", "latitude": 46.8139, "longitude": -71.2082}


def open_overview(page: Page, url: str) -> list[str]:
    """The signed-in director's overview, live; the HTTP requests the page makes after it
    is loaded (there must be none: the socket brings everything)."""
    requests: list[str] = []
    expect(page.locator("#overview-conn")).to_have_class("conn conn--live")
    # Set once: still there at the end means the page was never reloaded.
    page.evaluate("window.__sameOverview = true")

    def seen(request: Request) -> None:
        if request.resource_type in {"document", "fetch", "xhr"}:
            requests.append(request.url)

    page.on("request", seen)
    return requests


def assert_not_reloaded(page: Page, requests: list[str]) -> None:
    assert page.evaluate("window.__sameOverview") is True
    assert requests == [], requests


def test_an_arrival_and_a_step_on_a_board_appear_within_a_second(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    director = new_tablet("direction@example.org", path="/admin/overview")
    requests = open_overview(director, live_server.url)
    reception = new_tablet("accueil@example.org")
    erables = director.locator(".overview-card", has_text="Pavillon des Érables")
    expect(erables.locator('[data-count="alerts"] dd')).to_have_text("0")
    expect(erables.locator('[data-count="longest-wait"] dd')).to_have_text("—")

    started = time.monotonic()
    response = live_server.api(
        "POST", "/pickups", json={"child_id": "C0001", "guardian_id": "G0001", **AT_THE_DOOR}
    )
    assert response.status_code == 201, response.text
    pickup = response.json()
    row = erables.locator(f"#overview-pickup-{pickup['id']}")
    expect(row).to_contain_text(pickup["child_name"], timeout=1000)
    assert time.monotonic() - started < 1.0
    expect(row.locator(".badge--announced")).to_be_visible()
    expect(erables.locator('[data-count="alerts"] dd')).to_have_text("1")

    # Six minutes later reception presses « Appeler » on its board.
    live_server.clock.advance(timedelta(minutes=6))
    alert = reception.locator(f"#pickup-{pickup['id']}")
    started = time.monotonic()
    alert.get_by_role("button", name="Appeler").click()
    expect(row.locator(".badge--called")).to_be_visible(timeout=1000)
    assert time.monotonic() - started < 1.0
    expect(row.locator("[data-waiting]")).to_have_attribute("data-waiting", "6")
    expect(erables.locator('[data-count="longest-wait"] dd')).to_have_text("6 min")
    assert_not_reloaded(director, requests)


@pytest.fixture
def two_workers(
    settings: Settings, clock: ManualClock, redis_server: RedisServer
) -> Iterator[tuple[LiveServer, LiveServer]]:
    shared = dataclasses.replace(settings, redis_url=redis_server.url)
    with serving(shared, clock) as first, serving(shared, clock) as second:
        yield first, second


def test_a_change_made_through_the_other_worker_reaches_the_overview(
    two_workers: tuple[LiveServer, LiveServer], browser: Browser
) -> None:
    first, second = two_workers
    context = browser.new_context(locale="en-CA", viewport={"width": 1280, "height": 900})
    director = context.new_page()
    director.goto(f"{first.url}/login?next=/admin/overview")
    director.fill("input[name=email]", "direction@example.org")
    director.fill("input[name=password]", PASSWORD)
    director.click("button[type=submit]")
    requests = open_overview(director, first.url)

    started = time.monotonic()
    response = second.api(
        "POST", "/pickups", json={"child_id": "C-LEA", "guardian_id": "G-TREMBLAY", **AT_THE_DOOR}
    )
    assert response.status_code == 201, response.text
    row = director.locator(f"#overview-pickup-{response.json()['id']}")
    expect(row).to_contain_text("Léa Tremblay", timeout=1000)
    assert time.monotonic() - started < 1.0
    assert_not_reloaded(director, requests)
    context.close()
