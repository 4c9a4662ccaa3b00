"""A GPS arrival on the staff board and the wall, honestly: the age of the last fix, « signal
perdu » when the phone goes silent, the predicted time once the server falls back to it, and the
alert still coming at that time.

The parent shares the trip from the real parent page (Chromium's emulated geolocation), then the
phone loses the network (a tunnel). The server's clock and the boards' clocks (Playwright's) move
together, as real time would move them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Geolocation, Page, expect

from server.core.models import Pickup
from tests.e2e.conftest import COUNT_CHIMES, LiveServer, chimes, sign_in_parent
from tests.helpers import PASSWORD, the_row

pytestmark = pytest.mark.e2e

ERA = (46.8139, -71.2082)  # Pavillon des Érables
QUEBEC = ZoneInfo("America/Toronto")


def north_of_era(km: float) -> Geolocation:
    return Geolocation(latitude=ERA[0] + km / 111.2, longitude=ERA[1])


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    made: list[BrowserContext] = []

    def new(**options: object) -> BrowserContext:
        context = browser.new_context(**options)  # type: ignore[arg-type]
        made.append(context)
        return context

    yield new
    for context in made:
        context.close()


def open_board(live_server: LiveServer, context: BrowserContext, errors: list[str]) -> Page:
    """The reception's tablet, its clock under the test's hand (it keeps flowing)."""
    context.add_init_script(COUNT_CHIMES)
    context.on("weberror", lambda error: errors.append(str(error.error)))
    page = context.new_page()
    page.clock.install()
    page.goto(f"{live_server.url}/login?next=/board")
    page.fill("input[name=email]", "accueil@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#conn")).to_have_class("conn conn--live")
    page.click("#sound-toggle")
    return page


def time_passes(live_server: LiveServer, by: timedelta, *pages: Page) -> None:
    """Real time, for the server (its background work promotes and falls back) and for the
    boards' pages (board.js ticks the ages)."""
    live_server.clock.advance(by)
    for page in pages:
        page.clock.fast_forward(int(by.total_seconds() * 1000))


def test_a_silent_phone_reads_signal_lost_then_the_predicted_time_then_alerts_at_that_time(
    live_server: LiveServer,
    contexts: Callable[..., BrowserContext],
    wall: Callable[..., Page],
) -> None:
    errors: list[str] = []
    board = open_board(live_server, contexts(viewport={"width": 1180, "height": 820}), errors)
    screen = wall(locale="en")
    phone_context = contexts(
        viewport={"width": 412, "height": 915},
        is_mobile=True,
        locale="fr-CA",
        geolocation=north_of_era(8.0),
        permissions=["geolocation"],
    )
    phone = phone_context.new_page()
    sign_in_parent(phone, live_server.url)
    # Once live: the socket's first message renders the family again (the boxes with it).
    expect(phone.locator("#conn")).to_have_class("conn conn--live")
    for box in phone.locator("#family input[name=child_id]:not([disabled])").all():
        box.set_checked("Léa" in box.locator("xpath=..").inner_text())
    phone.get_by_role("button", name="Partager ma position (GPS)").click()
    phone.get_by_role("button", name="J’accepte : partager ma position").click()

    # 8 km away: « GPS ~21 min », from a fix just taken.
    line = board.locator("#upcoming li", has_text="Léa Tremblay").locator(".upcoming__when")
    expect(line).to_have_text(re.compile(r"GPS ~2\d min · à l’instant"))
    on_wall = screen.locator("#upcoming li", has_text="Léa Tremblay").locator(".upcoming__when")
    expect(on_wall).to_have_text(re.compile(r"GPS ~2\d min · just now"))

    # The phone moves on, then enters a tunnel: no fix reaches the server any more.
    live_server.clock.advance(timedelta(seconds=30))
    phone_context.set_geolocation(north_of_era(7.8))  # 200 m in 30 s: town speed
    expect(line.locator(".gps")).to_have_attribute("data-fix-at", re.compile(r"T21:00:30"))
    expect(line).to_have_text(re.compile(r"GPS ~\d+ min · à l’instant"))
    phone_context.set_offline(True)

    # A minute on, the minutes still show, with their age (a unit is kept with its number).
    time_passes(live_server, timedelta(seconds=60), board, screen)
    expect(line).to_have_text(re.compile(r"GPS ~\d+ min · il y a 1\smin"))
    # Past 90 s: the board says the signal is lost, and since when.
    time_passes(live_server, timedelta(seconds=65), board, screen)
    expect(line).to_have_text(re.compile(r"GPS · signal perdu \(il y a 2\smin\)"))
    expect(on_wall).to_have_text(re.compile(r"GPS · signal lost \(2\smin ago\)"))

    # Five minutes without a fix: the server falls back to the last estimate's arrival time.
    time_passes(live_server, timedelta(minutes=3), board, screen)
    expect(line).to_have_text(re.compile(r"heure prévue \d\d:\d\d"))
    [listed] = live_server.api("GET", "/pickups?installation_id=ERA&status=tracking").json()
    assert listed["child_id"] == "C-LEA"  # Léa only: Noah was not ticked
    pickup = the_row(live_server.settings.database_url, Pickup, id=listed["id"])
    assert pickup.eta is not None and pickup.announce_at is not None
    arrival = pickup.eta.astimezone(QUEBEC).strftime("%H:%M")
    alert_at = pickup.announce_at.astimezone(QUEBEC).strftime("%H:%M")
    expect(line).to_have_text(f"heure prévue {arrival} · alerte à {alert_at}")
    expect(on_wall).to_have_text(f"expected at {arrival} · alert at {alert_at}")

    # Still alerted in time: at that arrival minus the preparation time, with a chime.
    before = chimes(board)
    due = pickup.announce_at - live_server.clock.now()
    time_passes(live_server, due, board, screen)
    card = board.locator("#alerts li", has_text="Léa Tremblay")
    expect(card.locator(".alert__eta")).to_have_text(f"heure prévue {arrival}")
    assert chimes(board) == before + 1
    expect(screen.locator("#alerts li", has_text="Léa Tremblay")).to_be_visible()
    assert not errors, f"JavaScript errors on the board: {errors}"
