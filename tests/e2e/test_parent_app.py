"""The parent app on a phone, against the live board: announce by time (one child or
siblings), the call window, GPS, and "ready" arriving live."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from datetime import time, timedelta

import pytest
from PIL import Image
from playwright.sync_api import (
    Browser,
    BrowserContext,
    FilePayload,
    Geolocation,
    Locator,
    Page,
    expect,
)
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server.core.models import Installation
from tests.e2e.conftest import COUNT_CHIMES, LiveServer, chimes, sign_in_parent
from tests.helpers import in_db

pytestmark = pytest.mark.e2e

PARENT = "parent@example.org"
ERA = (46.8139, -71.2082)  # Pavillon des Érables

# Counts vibrations too (a phone rings and vibrates when the child is ready).
COUNT_VIBRATIONS = """
window.__vibrations = 0;
navigator.vibrate = () => { window.__vibrations += 1; return true; };
"""


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """A parent's phone, signed in through the parent sign-in page."""
    contexts: list[BrowserContext] = []

    def open_phone(email: str = PARENT, geolocation: tuple[float, float] | None = None) -> Page:
        where = None
        if geolocation is not None:
            where = Geolocation(latitude=geolocation[0], longitude=geolocation[1])
        context = browser.new_context(
            viewport={"width": 412, "height": 915},
            is_mobile=True,
            has_touch=True,
            locale="fr-CA",
            geolocation=where,
            permissions=["geolocation"] if where else [],
        )
        contexts.append(context)
        context.add_init_script(COUNT_CHIMES + COUNT_VIBRATIONS)
        page = context.new_page()
        sign_in_parent(page, live_server.url, email)
        expect(page.locator("#conn")).to_have_class("conn conn--live")
        return page

    yield open_phone
    for context in contexts:
        context.close()


def kid(page: Page, first_name: str) -> Locator:
    return page.locator(".kid", has_text=first_name)


def only(page: Page, first_name: str) -> None:
    """Keep only this child ticked for the next announcement."""
    for box in page.locator("#family input[name=child_id]:not([disabled])").all():
        label = box.locator("xpath=..").inner_text()
        if (first_name in label) != box.is_checked():
            box.click()


def test_an_arrival_time_waits_in_upcoming_then_chimes_at_arrival_minus_preparation(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org")
    parent = phone()
    only(parent, "Léa")
    parent.get_by_label("Ou à").fill("16:30")  # the clock says 16:00; preparation: 5 min
    parent.get_by_role("button", name="Annoncer").click()
    expect(parent.locator(".notice--ok")).to_contain_text("16:30")
    expect(kid(parent, "Léa").locator(".kid__state")).to_have_text("Prévu")
    expect(kid(parent, "Noah").locator(".kid__state")).to_have_text("Au service de garde")

    upcoming = reception.locator("#upcoming li", has_text="Léa Tremblay")
    expect(upcoming).to_contain_text("16:30")
    expect(upcoming).to_contain_text("16:25")
    before = chimes(reception)

    live_server.clock.advance(timedelta(minutes=24, seconds=59))
    # Same board, a later change: the alert is still not there at 16:24:59.
    seq = reception.locator("#board").get_attribute("data-seq") or ""
    live_server.api("POST", "/attendance", json={"child_id": "C0001", "present": False})
    expect(reception.locator("#board")).not_to_have_attribute("data-seq", seq)
    expect(reception.locator("#alerts")).not_to_contain_text("Léa Tremblay")

    live_server.clock.advance(timedelta(seconds=1))
    expect(reception.locator("#alerts li", has_text="Léa Tremblay")).to_be_visible()
    assert chimes(reception) == before + 1


def test_an_arrival_outside_the_call_window_is_refused_in_plain_words(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    # Through the model: its Time columns bind the same way on SQLite and PostgreSQL.
    async def narrow_the_window(session: AsyncSession) -> None:
        await session.execute(
            update(Installation)
            .where(col(Installation.external_id) == "ERA")
            .values(call_window_start=time(15, 30), call_window_end=time(18, 0))
        )

    in_db(live_server.settings.database_url, narrow_the_window)
    reception = new_tablet("accueil@example.org", sound=False)
    parent = phone()
    only(parent, "Léa")
    parent.get_by_label("Ou à").fill("18:30")
    parent.get_by_role("button", name="Annoncer").click()
    refusal = parent.locator(".notice--error")
    expect(refusal).to_contain_text("15:30")
    expect(refusal).to_contain_text("18:00")
    expect(kid(parent, "Léa").locator(".kid__state")).to_have_text("Au service de garde")
    expect(reception.locator("#upcoming")).not_to_contain_text("Léa Tremblay")
    assert live_server.api("GET", "/pickups").json() == []


def test_siblings_announced_in_one_tap_are_two_alerts(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org")
    parent = phone()
    parent.get_by_label("Ou à").fill("16:03")  # alert due at 15:58: at once
    parent.get_by_role("button", name="Annoncer").click()
    expect(parent.locator(".notice--ok")).to_have_count(2)
    expect(reception.locator("#alerts li.alert")).to_have_count(2)
    expect(reception.locator("#alerts")).to_contain_text("Léa Tremblay")
    expect(reception.locator("#alerts")).to_contain_text("Noah Tremblay")


def test_the_parent_sees_being_prepared_then_ready_live_with_sound_and_vibration(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    educator = new_tablet("educatrice@example.org", sound=False)
    parent = phone()
    only(parent, "Léa")
    parent.get_by_role("button", name="+10 min").click()  # 16:10, alert at 16:05
    expect(kid(parent, "Léa").locator(".kid__state")).to_have_text("Prévu")
    live_server.clock.advance(timedelta(minutes=5))
    alert = educator.locator("#alerts li", has_text="Léa Tremblay")
    alert.get_by_role("button", name="Appeler").click()
    expect(kid(parent, "Léa").locator(".kid__state")).to_have_text("En préparation")
    assert chimes(parent) == 0

    alert.get_by_role("button", name="Prêt").click()
    expect(kid(parent, "Léa").locator(".kid__state")).to_have_text("Prêt")
    expect(parent.locator("body")).to_have_attribute("data-ready-alerts", "1")
    assert chimes(parent) == 1
    assert parent.evaluate("window.__vibrations") == 1

    alert.get_by_role("button", name="Départ").click()
    educator.get_by_role("dialog").get_by_role("button", name="Oui, remis à Julie Tremblay").click()
    expect(kid(parent, "Léa").locator(".kid__state")).to_have_text("Parti")


def _toward(origin: tuple[float, float], km_north: float) -> tuple[float, float]:
    """A point `km_north` kilometres north of the daycare (same longitude)."""
    return (origin[0] + km_north / 111.2, origin[1])


def test_a_gps_trip_alerts_the_board_within_preparation_time_and_not_before(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org")
    start = _toward(ERA, 8.0)
    parent = phone(geolocation=start)
    only(parent, "Léa")
    parent.get_by_role("button", name="Partager ma position (GPS)").click()
    # Asked once: what is shared, with whom, how long, how to stop; nothing leaves before.
    consent = parent.locator("#gps-consent")
    expect(consent).to_be_visible()
    expect(consent).to_contain_text("60 minutes")
    assert live_server.sql("SELECT count(*) FROM trip_position") == [(0,)]
    consent.get_by_role("button", name="J’accepte : partager ma position").click()
    expect(parent.locator("#trip")).to_be_visible()
    assert live_server.sql("SELECT text_version FROM consent") == [("location-2026-12",)]
    expect(parent.locator("#trip-status")).to_contain_text("60 minutes")
    expect(kid(parent, "Léa").locator(".kid__state")).to_have_text("En route")
    upcoming = reception.locator("#upcoming li", has_text="Léa Tremblay")
    expect(upcoming).to_contain_text("GPS")
    before = chimes(reception)

    # 3 km away (about 8 minutes at town speed): still only upcoming. (4 min 30 s: under the
    # 5 minutes after which a silent trip falls back to its predicted time.)
    live_server.clock.advance(timedelta(minutes=4, seconds=30))
    parent.context.set_geolocation({"latitude": _toward(ERA, 3.0)[0], "longitude": ERA[1]})
    expect(upcoming).to_contain_text(re.compile(r"GPS ~[6-9] min"))
    expect(reception.locator("#alerts")).not_to_contain_text("Léa Tremblay")
    assert chimes(reception) == before

    # 1.5 km away: within the 5-minute preparation time, the board chimes.
    live_server.clock.advance(timedelta(minutes=3))
    parent.context.set_geolocation({"latitude": _toward(ERA, 1.5)[0], "longitude": ERA[1]})
    alert = reception.locator("#alerts li", has_text="Léa Tremblay")
    expect(alert).to_be_visible()
    assert chimes(reception) == before + 1
    [(kept,)] = live_server.sql("SELECT count(*) FROM trip_position")
    assert kept >= 3  # the trip's positions, while it lasts

    for step in ("Appeler", "Prêt", "Départ"):
        alert.get_by_role("button", name=step).click()
    reception.get_by_role("dialog").get_by_role(
        "button", name="Oui, remis à Julie Tremblay"
    ).click()
    expect(kid(parent, "Léa").locator(".kid__state")).to_have_text("Parti")
    expect(parent.locator("body")).to_have_attribute("data-sharing", "no")
    assert live_server.sql("SELECT count(*) FROM trip_position") == [(0,)]


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 60)).save(out, "JPEG")
    return out.getvalue()


def test_a_new_photo_blocks_announcing_until_the_daycare_approves_it(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    parent = phone()
    lea = kid(parent, "Léa")
    lea_id = (lea.get_attribute("id") or "").removeprefix("kid-")
    form = parent.locator(f"#photo-form-child-{lea_id}")
    form.locator("input[type=file]").set_input_files(
        files=FilePayload(name="lea.jpg", mimeType="image/jpeg", buffer=_jpeg())
    )
    form.get_by_role("button", name="Envoyer la photo").click()
    expect(lea.locator(".banner--pending")).to_have_text("En attente d’approbation par le centre")
    expect(lea.locator("input[name=child_id]")).to_have_count(0)  # cannot be ticked
    expect(lea.locator(".kid__why")).to_contain_text("approbation")
    # Noah is not concerned: still announceable.
    expect(kid(parent, "Noah").locator("input[name=child_id]")).to_be_enabled()

    director = new_tablet("direction@example.org", path="/admin", sound=False)
    director.locator("button", has_text="Oui").first.click()
    expect(director.locator("button", has_text="Oui")).to_have_count(0)

    # The parent's page follows live: Léa can be announced again.
    expect(lea.locator("input[name=child_id]")).to_be_enabled()
    expect(lea.locator(".banner--pending")).to_have_count(0)
    only(parent, "Léa")
    parent.get_by_role("button", name="+15 min").click()
    expect(parent.locator(".notice--ok")).to_contain_text("Léa")


def test_the_portal_changes_the_preparation_time_and_the_next_gps_alert_uses_it(
    live_server: LiveServer,
    browser: Browser,
    phone: Callable[..., Page],
    new_tablet: Callable[..., Page],
) -> None:
    reception = new_tablet("accueil@example.org")
    centre_context = browser.new_context()
    centre = centre_context.new_page()
    centre.goto(f"{live_server.url}/portal/login")
    centre.fill("input[name=email]", "centre.erables@example.org")
    centre.fill("input[name=password]", "demo-relais-2026")
    centre.locator("form button[type=submit]").click()
    expect(centre).to_have_url(re.compile(r"/portal/profile$"))
    centre.fill("input[name=preparation_minutes]", "10")
    centre.locator("form[action='/portal/profile'] button[type=submit]").click()
    expect(centre.locator(".notice--ok")).to_be_visible()
    centre_context.close()

    # 3 km away is about 8 minutes: inside the new 10-minute preparation time at once.
    parent = phone(geolocation=_toward(ERA, 3.0))
    only(parent, "Léa")
    parent.get_by_role("button", name="Partager ma position (GPS)").click()
    parent.get_by_role("button", name="J’accepte : partager ma position").click()
    expect(reception.locator("#alerts li", has_text="Léa Tremblay")).to_be_visible()
