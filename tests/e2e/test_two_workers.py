"""Two workers sharing Redis and the database: a board served by one sees, in under a second,
an announcement made through the other (the fan-out crosses workers), and Redis stopped and
restarted mid-run loses nothing: every board converges once it is back."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import LiveServer
from tests.helpers import PASSWORD, announce_at_the_door, run_async
from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e


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


def tablet(browser: Browser, server: LiveServer, email: str = "accueil@example.org") -> Page:
    page = browser.new_context(locale="fr-CA").new_page()
    page.goto(f"{server.url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#conn")).to_have_class("conn conn--live")
    return page


def test_redis_restarted_mid_run_every_board_converges_and_nothing_is_lost(
    two_workers: tuple[LiveServer, LiveServer], redis_server: RedisServer, browser: Browser
) -> None:
    first, second = two_workers
    boards = [tablet(browser, first), tablet(browser, second)]
    lea = announce_at_the_door(second.url, "C-LEA", "G-TREMBLAY")
    for board in boards:
        expect(board.locator(f"#pickup-{lea}")).to_contain_text("Léa")

    redis_server.kill()
    for board in boards:
        expect(board.locator("#conn")).to_have_class("conn conn--reconnecting")
    # Meanwhile the daycare goes on: an announcement and a button press still commit.
    noah = announce_at_the_door(first.url, "C-NOAH", "G-TREMBLAY")
    on_first = boards[0].locator(f"#pickup-{lea}")
    on_first.get_by_role("button", name="Appeler").click()
    expect(on_first).to_have_attribute("data-status", "called")
    expect(boards[1].locator(f"#pickup-{noah}")).to_have_count(0)  # the bus is down

    run_async(redis_server.start)
    for board in boards:
        expect(board.locator("#conn")).to_have_class("conn conn--live", timeout=10000)
        expect(board.locator(f"#pickup-{noah}")).to_contain_text("Noah")
        expect(board.locator(f"#pickup-{lea}")).to_have_attribute("data-status", "called")

    # And the fan-out across workers is live again.
    ready = second.api("POST", f"/pickups/{lea}/status", json={"status": "ready"})
    assert ready.status_code == 200, ready.text
    expect(boards[0].locator(f"#pickup-{lea}")).to_have_attribute(
        "data-status", "ready", timeout=1000
    )
    statuses = {p["id"]: p["status"] for p in first.api("GET", "/pickups").json()}
    assert statuses[lea] == "ready" and noah in statuses
    for board in boards:
        board.context.close()
