"""The parent's page on a phone (issue 13): one status card per child in the staff's own
words, « Prêt » filling the card with sound and vibration, quiet secondary actions, an honest
GPS panel (how old the last position is, « signal perdu », resuming after a reload), the GPS
button that says why it is off, a translated file picker, and a header that fits a 360 px
phone."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    FilePayload,
    Geolocation,
    Locator,
    Page,
    expect,
)

from tests.e2e.conftest import COUNT_CHIMES, LiveServer, chimes, sign_in_parent

pytestmark = pytest.mark.e2e

ERA = (46.8139, -71.2082)  # Pavillon des Érables

# Counts vibrations too (a phone rings and vibrates when the child is ready).
COUNT_VIBRATIONS = """
window.__vibrations = 0;
navigator.vibrate = () => { window.__vibrations += 1; return true; };
"""


def north_of_daycare(km: float) -> Geolocation:
    return Geolocation(latitude=ERA[0] + km / 111.2, longitude=ERA[1])


@pytest.fixture
def phone(browser: Browser, live_server: LiveServer) -> Iterator[Callable[..., Page]]:
    """A parent's phone, signed in; optionally sharing its position, or with the page's own
    clock under the test's hand (Playwright's clock: setInterval, Date)."""
    contexts: list[BrowserContext] = []
    script_errors: list[str] = []

    def open_phone(
        width: int = 390,
        height: int = 844,
        gps_km: float | None = None,
        own_clock: bool = False,
        english: bool = False,
    ) -> Page:
        context = browser.new_context(
            viewport={"width": width, "height": height},
            is_mobile=True,
            has_touch=True,
            locale="fr-CA",
            geolocation=None if gps_km is None else north_of_daycare(gps_km),
            permissions=[] if gps_km is None else ["geolocation"],
        )
        contexts.append(context)
        context.add_init_script(COUNT_CHIMES + COUNT_VIBRATIONS)
        context.on("weberror", lambda error: script_errors.append(str(error.error)))
        page = context.new_page()
        if own_clock:
            page.clock.install()
        sign_in_parent(page, live_server.url)
        if english:
            page.get_by_role("link", name="English").click()
            expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.locator("#conn")).to_have_class(re.compile(r"conn--live"))
        return page

    yield open_phone
    for context in contexts:
        context.close()
    assert not script_errors, f"JavaScript errors on the page: {script_errors}"


def card(page: Page, first_name: str) -> Locator:
    return page.locator("#family .kid", has_text=first_name)


def tick_only(page: Page, first_name: str) -> None:
    for box in page.locator("#family input[name=child_id]").all():
        mine = first_name in (box.locator("xpath=..").inner_text())
        if mine != box.is_checked():
            box.click()


def share_gps(page: Page) -> None:
    page.get_by_role("button", name="Partager ma position (GPS)").click()
    page.get_by_role("button", name="J’accepte : partager ma position").click()
    expect(page.locator("#trip")).to_have_attribute("data-state", "sharing")
    expect(page.locator("#family .kid[data-mode=gps]")).to_have_count(1)
    expect(page.locator("#trip-age")).to_contain_text("Position envoyée il y a")


def test_a_card_per_child_says_what_staff_see_and_ready_fills_it_with_sound(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    educator = new_tablet("educatrice@example.org", sound=False)
    parent = phone()
    lea = card(parent, "Léa")
    expect(lea.locator(".kid__state")).to_have_text("Au service de garde")
    tick_only(parent, "Léa")
    parent.get_by_role("button", name="+10 min").click()  # 16:10, alert at 16:05
    expect(lea.locator(".kid__state")).to_have_text("Prévu")
    expect(lea.locator(".kid__eta")).to_have_text("Arrivée à 16:10")
    # Nothing alarming about a normal state: no orange, no red button on the way.
    # (Awaited: a live update may redraw the card meanwhile.)
    expect(lea.locator(".kid__status")).to_have_css("background-color", "rgb(238, 242, 247)")
    cancel = parent.get_by_role("button", name="Annuler l’arrivée")
    expect(cancel).to_be_hidden()  # folded away until asked for

    live_server.clock.advance(timedelta(minutes=5))
    alert = educator.locator("#alerts li", has_text="Léa Tremblay")
    # One word per state, the same on the board and on the phone.
    for step, word in ((None, "Arrive bientôt"), ("Appeler", "En préparation"), ("Prêt", "Prêt")):
        if step:
            alert.get_by_role("button", name=step).click()
        expect(alert.locator(".badge")).to_have_text(word)
        expect(lea.locator(".kid__state")).to_have_text(word)
        expect(card(parent, "Noah").locator(".kid__state")).to_have_text("Au service de garde")

    banner = lea.locator(".kid__status--ready")
    expect(banner).to_contain_text("Léa vous attend — présentez-vous à la porte")
    expect(parent.locator("body")).to_have_attribute("data-ready-alerts", "1")
    assert chimes(parent) == 1
    assert parent.evaluate("window.__vibrations") == 1
    # The banner fills the card; the cancel stays a small link behind « Annuler l’arrivée… ».
    banner_box, card_box = banner.bounding_box(), lea.bounding_box()
    assert banner_box and card_box and banner_box["width"] >= card_box["width"] - 40
    expect(cancel).to_be_hidden()
    lea.locator("summary").click()
    expect(cancel).to_be_visible()
    cancel_box = cancel.bounding_box()
    assert cancel_box and cancel_box["height"] < banner_box["height"] / 2


def test_the_gps_button_says_to_tick_a_child_and_ticks_survive_live_updates(
    live_server: LiveServer, phone: Callable[..., Page]
) -> None:
    parent = phone()
    gps = parent.get_by_role("button", name="Partager ma position (GPS)")
    why = parent.locator("#pick-first")
    expect(gps).to_be_enabled()
    expect(why).to_be_hidden()
    for box in parent.locator("#family input[name=child_id]").all():
        box.click()
    expect(gps).to_be_disabled()
    expect(why).to_have_text("Cochez un enfant d’abord")
    expect(parent.get_by_role("button", name="+10 min")).to_be_disabled()

    card(parent, "Léa").locator("input[name=child_id]").click()
    expect(gps).to_be_enabled()
    expect(why).to_be_hidden()
    parent.get_by_role("button", name="+15 min").click()
    expect(card(parent, "Léa").locator(".kid__state")).to_have_text("Prévu")
    # The cards were re-rendered: Noah, unticked by the parent, stays unticked.
    expect(card(parent, "Noah").locator("input[name=child_id]")).not_to_be_checked()
    expect(gps).to_be_disabled()
    expect(why).to_be_visible()


def test_the_gps_panel_tells_the_age_of_the_last_position_and_a_lost_signal(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org", sound=False)
    parent = phone(gps_km=8.0, own_clock=True)
    tick_only(parent, "Léa")
    share_gps(parent)
    age = parent.locator("#trip-age")
    expect(age).to_have_text(re.compile(r"^Position envoyée il y a [0-9] secondes?$"))
    parent.clock.fast_forward(12_000)
    expect(age).to_have_text(re.compile(r"^Position envoyée il y a 1[2-9] secondes$"))
    expect(card(parent, "Léa").locator(".kid__stale")).to_be_hidden()

    parent.clock.fast_forward(60_000)  # no fix for a minute
    trip = parent.locator("#trip")
    expect(trip).to_have_attribute("data-state", "lost")
    expect(parent.locator("#trip-status")).to_contain_text("Signal perdu")
    expect(age).to_have_text(re.compile(r"^Position envoyée il y a 1 minute$"))
    expect(card(parent, "Léa").locator(".kid__stale")).to_be_visible()

    # The phone finds itself again, nearer: sharing, and the board hears it.
    live_server.clock.advance(timedelta(minutes=4))  # under the 5-min fallback
    parent.context.set_geolocation(north_of_daycare(1.5))
    expect(trip).to_have_attribute("data-state", "sharing")
    expect(age).to_have_text(re.compile(r"^Position envoyée il y a [0-9] secondes?$"))
    expect(reception.locator("#alerts li", has_text="Léa Tremblay")).to_be_visible()


def test_after_a_reload_sharing_resumes_by_itself(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org", sound=False)
    parent = phone(gps_km=8.0)
    tick_only(parent, "Léa")
    share_gps(parent)
    parent.reload()
    expect(parent.locator("#trip")).to_have_attribute("data-state", "sharing")
    expect(parent.locator("#trip-resume")).to_be_hidden()
    live_server.clock.advance(timedelta(minutes=4))  # under the 5-min fallback
    parent.context.set_geolocation(north_of_daycare(1.5))
    expect(reception.locator("#alerts li", has_text="Léa Tremblay")).to_be_visible()


def test_when_sharing_cannot_resume_the_page_says_so_with_a_button(
    live_server: LiveServer, phone: Callable[..., Page], new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org", sound=False)
    parent = phone(gps_km=8.0)
    tick_only(parent, "Léa")
    share_gps(parent)
    parent.context.clear_permissions()  # the phone no longer lets the page read the position
    parent.reload()
    trip = parent.locator("#trip")
    expect(trip).to_have_attribute("data-state", "stopped")
    expect(parent.locator("#trip-status")).to_have_text(
        "Le partage de votre position est arrêté : le service de garde voit la dernière "
        "estimation, qui n’est plus mise à jour."
    )
    expect(card(parent, "Léa").locator(".kid__stale")).to_be_visible()

    parent.context.grant_permissions(["geolocation"])
    live_server.clock.advance(timedelta(minutes=4))  # under the 5-min fallback
    parent.context.set_geolocation(north_of_daycare(1.5))
    parent.get_by_role("button", name="Reprendre le partage").click()
    expect(trip).to_have_attribute("data-state", "sharing")
    expect(card(parent, "Léa").locator(".kid__stale")).to_be_hidden()
    expect(reception.locator("#alerts li", has_text="Léa Tremblay")).to_be_visible()


def test_the_photo_picker_speaks_the_pages_language(
    live_server: LiveServer, phone: Callable[..., Page]
) -> None:
    parent = phone()
    lea_id = (card(parent, "Léa").get_attribute("id") or "").removeprefix("kid-")
    form = parent.locator(f"#photo-form-child-{lea_id}")
    expect(form.locator(".file-pick__button")).to_have_text("Choisir une photo")
    expect(form.locator(".file-pick__name")).to_have_text("Aucune photo choisie")
    picker = form.get_by_label(re.compile("Nouvelle photo de l’enfant"))
    size = picker.bounding_box()
    assert size and size["width"] <= 1 and size["height"] <= 1  # there, named, not shown
    picker.set_input_files(FilePayload(name="lea.jpg", mimeType="image/jpeg", buffer=b"\xff\xd8"))
    expect(form.locator(".file-pick__name")).to_have_text("lea.jpg")

    parent.get_by_role("link", name="English").click()
    form = parent.locator(f"#photo-form-child-{lea_id}")
    expect(form.locator(".file-pick__button")).to_have_text("Choose a photo")
    expect(form.locator(".file-pick__name")).to_have_text("No photo chosen")


@pytest.mark.parametrize(("width", "height"), [(360, 740), (390, 844)])
@pytest.mark.parametrize("english", [False, True], ids=["fr", "en"])
def test_the_header_keeps_one_line_on_a_phone(
    live_server: LiveServer,
    phone: Callable[..., Page],
    new_tablet: Callable[..., Page],
    width: int,
    height: int,
    english: bool,
    tmp_path: Path,
) -> None:
    educator = new_tablet("educatrice@example.org", sound=False)
    parent = phone(width=width, height=height, english=english)
    tick_only(parent, "Léa")
    parent.get_by_role("button", name="+10 min").click()
    expect(card(parent, "Léa")).to_have_attribute("data-state", "scheduled")
    live_server.clock.advance(timedelta(minutes=5))
    alert = educator.locator("#alerts li", has_text="Léa Tremblay")
    for step in ("Appeler", "Prêt"):
        alert.get_by_role("button", name=step).click()
    expect(card(parent, "Léa")).to_have_attribute("data-state", "ready")

    header = parent.locator("header.parent-top")
    conn, sign_out = parent.locator("#conn"), header.locator("button.linklike")
    boxes = [header.bounding_box(), conn.bounding_box(), sign_out.bounding_box()]
    head, live, out = boxes
    assert head and live and out
    assert head["height"] <= 72, f"the header is {head['height']} px high"  # was 115 px
    for item in (live, out):  # one line each, side by side
        assert item["height"] <= 48
        assert abs((item["y"] + item["height"] / 2) - (live["y"] + live["height"] / 2)) < 4
    assert out["x"] + out["width"] <= width
    overflow = parent.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px"
    parent.screenshot(path=str(tmp_path / f"parent-{width}x{height}.png"))
    # « Mes données » too: a correction's long choices stay within the phone's width.
    parent.goto(f"{live_server.url}/parent/donnees")
    overflow = parent.evaluate("document.documentElement.scrollWidth - innerWidth")
    assert overflow <= 0, f"« Mes données » scrolls sideways by {overflow} px"
