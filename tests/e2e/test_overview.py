"""The director's overview, live in a real browser: an arrival announced through the API
appears on the overview by itself (htmx polling), with its step and waiting minutes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer

pytestmark = pytest.mark.e2e

POLL_TIMEOUT_MS = 8_000  # the page polls every 5 s


def test_overview_updates_when_a_pickup_is_announced_and_advanced(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    director = new_tablet("direction@example.org", path="/admin/overview")
    expect(director.locator("#overview-live")).to_be_visible()
    erables = director.locator(".overview-card", has_text="Pavillon des Érables")
    expect(erables.locator('[data-count="alerts"] dd')).to_have_text("0")

    response = live_server.api(
        "POST",
        "/pickups",
        json={
            "child_id": "C0001",
            "guardian_id": "G0001",
            "mode": "gps",
            "latitude": 46.8139,
            "longitude": -71.2082,
        },
    )
    assert response.status_code == 201, response.text
    pickup = response.json()
    row = erables.locator(f"#overview-pickup-{pickup['id']}")
    expect(row).to_contain_text(pickup["child_name"], timeout=POLL_TIMEOUT_MS)
    expect(row.locator(".badge--announced")).to_be_visible()
    expect(erables.locator('[data-count="alerts"] dd')).to_have_text("1")

    live_server.clock.advance(timedelta(minutes=6))
    assert live_server.api(
        "POST", f"/pickups/{pickup['id']}/status", json={"status": "called"}
    ).is_success
    expect(row.locator(".badge--called")).to_be_visible(timeout=POLL_TIMEOUT_MS)
    expect(row.locator("[data-waiting]")).to_have_attribute("data-waiting", "6")
