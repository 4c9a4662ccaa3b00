"""The wall display: a revocable link, no sign-in, no buttons, live alerts."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import COUNT_CHIMES, LiveServer, chimes
from tests.e2e.test_board_live import announce_gps_here, child_of_group

pytestmark = pytest.mark.e2e


def test_admin_creates_a_display_that_shows_alerts_live_until_revoked(
    live_server: LiveServer, browser: Browser, new_tablet: Callable[..., Page]
) -> None:
    director = new_tablet("direction@example.org", path="/admin/displays", sound=False)
    director.get_by_label("Nom").fill("Accueil — mur")
    director.get_by_label("Installation").select_option(label="Pavillon des Érables")
    director.get_by_role("button", name="Créer un lien d’écran mural").click()
    link = director.locator("a.display-link").inner_text()
    assert re.fullmatch(rf"{re.escape(live_server.url)}/display/[\w-]+", link)

    wall_context = browser.new_context(viewport={"width": 1920, "height": 1080})
    wall_context.add_init_script(COUNT_CHIMES)
    wall = wall_context.new_page()
    wall.goto(link)  # no sign-in
    expect(wall.locator("#conn")).to_have_class("conn conn--live")
    wall.click("#sound-toggle")
    before = chimes(wall)

    pickup = announce_gps_here(live_server, child_of_group(live_server, "ERA-HIB"))
    alert = wall.locator(f"#pickup-{pickup['id']}")
    expect(alert).to_be_visible()
    assert chimes(wall) == before + 1
    expect(alert.get_by_role("button")).to_have_count(0)  # a wall screen only shows
    expect(wall.get_by_role("button", name="Arrivée")).to_have_count(0)

    director.reload()
    director.locator("tr", has_text="Accueil — mur").get_by_role("button", name="Révoquer").click()
    expect(director.locator("tr", has_text="Accueil — mur")).to_contain_text("Révoqué")
    # The open screen is cut off at once and the link no longer opens anything.
    expect(wall.locator("body")).to_contain_text("révoqué", timeout=10000)
    wall_context.close()
