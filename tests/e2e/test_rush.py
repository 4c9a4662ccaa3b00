"""17:45, many parents at the door: the wall display pages its alerts, a tablet never hides one,
staff check who takes whom before Départ, every step can be undone on every board, a failed
press says so, and the chime rings once for each alert that appears in a view.

Writes the README's pictures of the wall display and of a tablet in a rush to docs/."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveServer, TcpProxy, chimes
from tests.e2e.test_board_live import announce_gps_here, child_of_group

pytestmark = pytest.mark.e2e

DOCS = Path(__file__).resolve().parents[2] / "docs"
WALL_SHOT = DOCS / "wall-rush.png"
TABLET_SHOT = DOCS / "tablet-rush.png"


def present_children(server: LiveServer) -> list[dict[str, Any]]:
    children: list[dict[str, Any]] = server.api("GET", "/children?installation_id=ERA").json()
    return [c for c in children if c["present"] and c["guardian_ids"]]


def unannounced(server: LiveServer, group: str) -> dict[str, Any]:
    """A present child of `group` with no live pickup yet."""
    pickups = server.api("GET", "/pickups?installation_id=ERA").json()
    busy = {p["child_id"] for p in pickups if p["status"] in ("announced", "called", "ready")}
    return next(
        c for c in present_children(server) if c["group_id"] == group and c["id"] not in busy
    )


def announce(server: LiveServer, child: dict[str, Any], eta: str = "16:00") -> int:
    response = server.api(
        "POST",
        "/pickups",
        json={
            "child_id": child["id"],
            # Léa's mother announces (the family's other adult is her grandmother).
            "guardian_id": "G-TREMBLAY" if child["id"] == "C-LEA" else child["guardian_ids"][0],
            "mode": "eta",
            "eta": eta,
        },
    )
    assert response.status_code == 201, response.text
    pickup_id: int = response.json()["id"]
    return pickup_id


def a_rush(server: LiveServer, count: int) -> list[int]:
    """`count` parents at the door, in arrival order from 15:46 to 16:04 (the clock says
    16:00), Léa's mother first."""
    children = sorted(present_children(server), key=lambda c: c["id"] != "C-LEA")
    etas = [15 * 60 + 46 + i * 18 // max(count - 1, 1) for i in range(count)]
    return [
        announce(server, child, eta=f"{eta // 60}:{eta % 60:02d}")
        for eta, child in zip(etas, children[:count], strict=False)
    ]


def visible_alerts(page: Page) -> list[str]:
    """Ids of the alerts a person in front of the screen sees whole."""
    ids: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('#alert-list > li.alert')].filter((li) => {
            if (li.hidden) return false;
            const r = li.getBoundingClientRect();
            return r.width > 0 && r.top >= 0 && r.bottom <= window.innerHeight
                && r.left >= 0 && r.right <= window.innerWidth;
        }).map((li) => li.id)"""
    )
    return ids


def test_the_wall_pages_thirty_alerts_and_says_how_many_more_wait(
    live_server: LiveServer, wall: Callable[..., Page]
) -> None:
    screen = wall()
    pickups = a_rush(live_server, 30)
    expect(screen.locator("#alerts-count")).to_have_text("30")
    expect(screen.locator("#sections")).to_have_count(0)  # no child list on a wall
    expect(screen.locator("#alert-list")).to_have_attribute("data-pages", "2")

    first_page = visible_alerts(screen)
    assert len(first_page) >= 24
    more = screen.locator("#wall-more")
    expect(more).to_be_visible()
    expect(more).to_contain_text(f"+{30 - len(first_page)} autres")
    # Oldest first: the first card is the one waiting longest.
    assert first_page[0] == f"pickup-{pickups[0]}"
    name_px = screen.locator(".alert__child").first.evaluate(
        "(el) => parseFloat(getComputedStyle(el).fontSize)"
    )
    assert name_px >= 28
    for word in ("Arrive bientôt",):
        expect(screen.locator(".badge").first).to_have_text(word)
    WALL_SHOT.parent.mkdir(exist_ok=True)
    screen.screenshot(path=str(WALL_SHOT))

    screen.clock.fast_forward(8000)  # the page turns by itself
    expect(screen.locator("#alert-list")).to_have_attribute("data-page", "2")
    second_page = visible_alerts(screen)
    expect(more).to_contain_text(f"+{30 - len(second_page)} autres")
    assert set(first_page) | set(second_page) == {f"pickup-{p}" for p in pickups}
    screen.clock.fast_forward(8000)
    expect(screen.locator("#alert-list")).to_have_attribute("data-page", "1")


def test_the_wall_at_720p_in_english_keeps_names_readable(
    live_server: LiveServer, wall: Callable[..., Page], tmp_path: Path
) -> None:
    screen = wall(1280, 720, locale="en")
    a_rush(live_server, 12)
    expect(screen.locator("#alerts-count")).to_have_text("12")
    assert len(visible_alerts(screen)) == 12
    expect(screen.locator("#wall-more")).to_be_hidden()
    expect(screen.locator(".badge").first).to_have_text("Arriving soon")
    screen.screenshot(path=str(tmp_path / "wall-720p-en.png"))


def test_an_overdue_alert_is_highlighted_and_chimes_again_once(
    live_server: LiveServer, wall: Callable[..., Page]
) -> None:
    live_server.sql("UPDATE installation SET overdue_minutes = 2 WHERE external_id = 'ERA'")
    screen = wall()
    screen.click("#sound-toggle")
    before = chimes(screen)
    pickup = announce_gps_here(live_server, child_of_group(live_server, "ERA-LUT"))
    alert = screen.locator(f"#pickup-{pickup['id']}")
    expect(alert).to_be_visible()
    assert chimes(screen) == before + 1
    expect(alert).not_to_have_class(re.compile("alert--overdue"))

    screen.clock.fast_forward("02:01")
    expect(alert).to_have_class(re.compile("alert--overdue"))
    expect(screen.locator("#board")).to_have_attribute("data-chimes", str(2))
    assert chimes(screen) == before + 2
    screen.clock.fast_forward("01:00")  # still overdue: no second chime for the same cause
    expect(alert).to_contain_text("3 min")
    assert chimes(screen) == before + 2


def test_a_tablet_scrolled_down_is_shown_the_new_arrival_in_one_tap(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    tablet = new_tablet("accueil@example.org")
    tablet.set_viewport_size({"width": 820, "height": 1180})
    tablet.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    bar = tablet.locator("#arrivals-bar")
    expect(bar).to_be_hidden()

    pickup = announce_gps_here(live_server, child_of_group(live_server, "ERA-HIB"))
    alert = tablet.locator(f"#pickup-{pickup['id']}")
    expect(alert).to_be_attached()
    expect(bar).to_be_visible()
    expect(bar).to_have_text("1 arrivée : voir")
    assert _in_viewport(tablet, "#arrivals-bar")
    assert not _in_viewport(tablet, f"#pickup-{pickup['id']}")
    bar.click()
    expect(bar).to_be_hidden()
    assert _in_viewport(tablet, f"#pickup-{pickup['id']}")


def test_in_landscape_the_arrivals_stay_in_view_while_the_lists_scroll(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    tablet = new_tablet("accueil@example.org")
    tablet.set_viewport_size({"width": 1180, "height": 820})
    tablet.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    pickup = announce_gps_here(live_server, child_of_group(live_server, "ERA-EXP"))
    expect(tablet.locator(f"#pickup-{pickup['id']}")).to_be_visible()
    assert _in_viewport(tablet, f"#pickup-{pickup['id']}")
    expect(tablet.locator("#arrivals-bar")).to_be_hidden()


def _in_viewport(page: Page, selector: str) -> bool:
    inside: bool = page.evaluate(
        """(selector) => {
            const r = document.querySelector(selector).getBoundingClientRect();
            const top = document.querySelector('.topbar').getBoundingClientRect().bottom;
            return r.height > 0 && r.top >= top - 1 && r.bottom <= window.innerHeight + 1;
        }""",
        selector,
    )
    return inside


def test_cards_show_the_photos_and_departure_confirms_the_adult(
    live_server: LiveServer, portraits: None, new_tablet: Callable[..., Page]
) -> None:
    tablet = new_tablet("accueil@example.org")
    tablet.set_viewport_size({"width": 1180, "height": 820})
    lea = next(c for c in present_children(live_server) if c["id"] == "C-LEA")
    pickup_id = announce(live_server, lea)
    card = tablet.locator(f"#pickup-{pickup_id}")
    child_photo = card.get_by_role("img", name="Photo de Léa Tremblay")
    adult_photo = card.get_by_role("img", name="Photo de Julie Tremblay")
    for photo in (child_photo, adult_photo):
        expect(photo).to_be_visible()
        # Loaded, not a broken image (the server let this tablet see it).
        photo.evaluate("(img) => img.decode().then(() => img.naturalWidth)")
        assert photo.evaluate("(img) => img.naturalWidth") > 0
        box = photo.bounding_box()
        assert box is not None and box["width"] >= 80  # large enough to recognize
    # Another parent without a photo: initials.
    other = announce_gps_here(live_server, unannounced(live_server, "ERA-HIB"))
    expect(tablet.locator(f"#pickup-{other['id']} .face__initials")).to_have_count(2)

    card.get_by_role("button", name="Appeler").click()
    expect(card).to_have_attribute("data-status", "called")
    card.get_by_role("button", name="Prêt").click()
    expect(card).to_have_attribute("data-status", "ready")
    a_rush_of_others(live_server)
    tablet.evaluate("window.scrollTo(0, 0)")
    TABLET_SHOT.parent.mkdir(exist_ok=True)
    tablet.screenshot(path=str(TABLET_SHOT))

    card.get_by_role("button", name="Départ").click()
    dialog = tablet.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Remis à Julie Tremblay ?")
    expect(dialog.get_by_role("img", name="Photo de Julie Tremblay")).to_be_visible()
    expect(card).to_have_attribute("data-status", "ready")  # nothing happens before the yes
    # The grandmother came instead: one tap on her.
    dialog.get_by_role("button", name=re.compile("Remis à Denise Tremblay")).click()
    expect(card).to_have_count(0)
    expect(dialog).to_have_count(0)
    [(handed_to, by)] = live_server.sql(
        "SELECT handed_to_name, actor_name FROM pickup_event"
        " WHERE pickup_id = :id AND to_status = 'departed'",
        id=pickup_id,
    )
    assert (handed_to, by) == ("Denise Tremblay", "Accueil")


def a_rush_of_others(server: LiveServer) -> None:
    for group in ("ERA-EXP", "ERA-HIB"):
        announce_gps_here(server, unannounced(server, group))


def test_a_step_is_undone_from_another_tablet_within_ten_seconds(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    reception = new_tablet("accueil@example.org", sound=False)
    educator = new_tablet("educatrice@example.org", sound=False)
    pickup = announce_gps_here(live_server, child_of_group(live_server, "ERA-LUT"))
    alert_r = reception.locator(f"#pickup-{pickup['id']}")
    alert_e = educator.locator(f"#pickup-{pickup['id']}")
    alert_r.get_by_role("button", name="Appeler").click()
    expect(alert_e).to_have_attribute("data-status", "called")

    offer_r = reception.locator(f"#undo-{pickup['id']}")
    offer_e = educator.locator(f"#undo-{pickup['id']}")
    expect(offer_r).to_be_visible()
    expect(offer_e).to_contain_text("En préparation")
    offer_e.get_by_role("button", name="Annuler").click()
    for alert in (alert_r, alert_e):
        expect(alert).to_have_attribute("data-status", "announced")
    expect(offer_r).to_have_count(0)
    expect(offer_e).to_have_count(0)
    lines = live_server.sql(
        "SELECT from_status, to_status, actor_name FROM pickup_event WHERE pickup_id = :id"
        " ORDER BY id",
        id=pickup["id"],
    )
    assert lines[-2:] == [
        ("announced", "called", "Accueil"),
        ("called", "announced", "Éducatrice des Lutins"),
    ]

    # An offer goes away by itself after ten seconds (on the server's clock).
    alert_e.get_by_role("button", name="Appeler").click()
    expect(offer_r).to_be_visible()
    live_server.clock.advance(timedelta(seconds=11))
    # The next change the boards receive carries the server's clock.
    announce_gps_here(live_server, unannounced(live_server, "ERA-HIB"))
    expect(offer_r).to_have_count(0)
    expect(offer_e).to_have_count(0)


def test_staff_dismiss_an_alert_with_a_reason(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    tablet = new_tablet("accueil@example.org", sound=False)
    lea = next(c for c in present_children(live_server) if c["id"] == "C-LEA")
    pickup_id = announce(live_server, lea)
    card = tablet.locator(f"#pickup-{pickup_id}")
    card.get_by_role("button", name="Retirer…").click()
    tablet.get_by_role("dialog").get_by_role(
        "button", name="Annonce par erreur ou en double"
    ).click()
    expect(card).to_have_count(0)
    expect(tablet.locator(f"#undo-{pickup_id}")).to_contain_text("Retirée")
    [(status,)] = live_server.sql("SELECT status FROM pickup WHERE id = :id", id=pickup_id)
    assert status == "dismissed"


def test_a_press_that_cannot_reach_the_server_says_so_and_can_be_retried(
    live_server: LiveServer, proxy: TcpProxy, new_tablet: Callable[..., Page]
) -> None:
    tablet = new_tablet("accueil@example.org", base=proxy.url, sound=False)
    pickup = announce_gps_here(live_server, child_of_group(live_server, "ERA-LUT"))
    alert = tablet.locator(f"#pickup-{pickup['id']}")
    expect(alert).to_be_visible()

    proxy.cut()
    expect(tablet.locator("#conn-banner")).to_be_visible()
    expect(tablet.locator("#conn-banner")).to_contain_text("Hors ligne")
    alert.get_by_role("button", name="Appeler").click()
    toast = tablet.locator("#toast")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("Pas de connexion au serveur : rien n’a été changé.")
    expect(alert).to_have_attribute("data-status", "announced")
    expect(alert.get_by_role("button", name="Appeler")).to_be_enabled()
    [(status,)] = live_server.sql("SELECT status FROM pickup WHERE id = :id", id=pickup["id"])
    assert status == "announced"

    proxy.restore()
    expect(tablet.locator("#conn")).to_have_class("conn conn--live", timeout=15000)
    expect(tablet.locator("#conn-banner")).to_be_hidden()
    toast.get_by_role("button", name="Réessayer").click()
    expect(alert).to_have_attribute("data-status", "called")


def test_a_refused_press_shows_the_reason_and_the_true_state(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    tablet = new_tablet("accueil@example.org", sound=False)
    pickup = announce_gps_here(live_server, child_of_group(live_server, "ERA-LUT"))
    alert = tablet.locator(f"#pickup-{pickup['id']}")
    alert.get_by_role("button", name="Appeler").click()
    offer = tablet.locator(f"#undo-{pickup['id']}")
    expect(offer).to_be_visible()
    # Eleven seconds pass on the server before the tap reaches it: too late.
    live_server.clock.advance(timedelta(seconds=11))
    offer.get_by_role("button", name="Annuler").click()
    toast = tablet.locator("#toast")
    expect(toast).to_contain_text("Trop tard pour annuler")
    expect(toast.get_by_role("button", name="Réessayer")).to_have_count(0)  # refused: no retry
    expect(alert).to_have_attribute("data-status", "called")


def test_an_alert_moved_into_my_group_chimes_once(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    educator = new_tablet("educatrice@example.org")  # Les Lutins
    child = child_of_group(live_server, "ERA-EXP")
    pickup = announce_gps_here(live_server, child)
    reception_seq = live_server.sql("SELECT event_seq FROM installation WHERE external_id = 'ERA'")
    expect(educator.locator("#board")).to_have_attribute("data-seq", str(reception_seq[0][0]))
    before = chimes(educator)
    moved = live_server.api("PATCH", f"/children/{child['id']}", json={"group_id": "ERA-LUT"})
    assert moved.status_code == 200
    expect(educator.locator(f"#pickup-{pickup['id']}")).to_be_visible()
    assert chimes(educator) == before + 1
    # A step on it is no new alert: no chime.
    live_server.api("POST", f"/pickups/{pickup['id']}/status", json={"status": "called"})
    expect(educator.locator(f"#pickup-{pickup['id']}")).to_have_attribute("data-status", "called")
    assert chimes(educator) == before + 1


# A browser that blocks audio until a tap (as after a reload): its audio context waits.
BLOCK_AUDIO = """
window.AudioContext = class {
  constructor() { this.state = 'suspended'; }
  close() { return Promise.resolve(); }
};
"""


def test_sound_survives_a_reload_and_says_when_the_browser_blocks_it(
    live_server: LiveServer, new_tablet: Callable[..., Page]
) -> None:
    tablet = new_tablet("accueil@example.org")  # turns sound on
    tablet.context.add_init_script(BLOCK_AUDIO)
    tablet.reload()
    sound = tablet.locator("#sound-toggle")
    expect(sound).to_have_text("Son bloqué : touchez pour le réactiver")
    expect(sound).to_have_attribute("aria-pressed", "false")
    sound.click()
    expect(sound).to_have_text("Son activé")
    expect(sound).to_have_attribute("aria-pressed", "true")
    tablet.reload()  # the choice is kept
    expect(sound).to_have_text("Son bloqué : touchez pour le réactiver")
