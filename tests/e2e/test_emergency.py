"""Emergency closures end to end: a director starts an evacuation drill; two tablets and the
wall display switch to the roll call at once; checks on one tablet reach the other and the
wall; the counts reach « all accounted for »; no family is told. A real closure: the demo
parent's page shows « Fermeture d’urgence », an email reaches the SMTP server, Léa is handed
to Julie Tremblay chosen by her photo, a stranger cannot be chosen, and the report lists
every step in order."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from server.core.settings import Settings
from tests.e2e.conftest import LiveServer, sign_in_parent
from tests.smtp import Inbox

pytestmark = pytest.mark.e2e
START = re.compile("Déclencher une fermeture d.urgence")


@pytest.fixture
def settings(settings: Settings, inbox: Inbox) -> Settings:
    return dataclasses.replace(settings, smtp_url=inbox.url)


def _child_id(live_server: LiveServer, external_id: str) -> int:
    ((found,),) = live_server.sql("SELECT id FROM child WHERE external_id = :e", e=external_id)
    return int(found)


def _start(director: Page, kind: str, drill: bool) -> None:
    director.get_by_role("link", name=START).click()
    director.get_by_label("Pavillon des Érables").check()
    director.get_by_label("Évacuation" if kind == "evacuation" else "Fermeture", exact=True).check()
    if drill:
        director.get_by_label(re.compile("C’est un exercice")).check()
    director.get_by_label("Message aux familles").fill(
        "Alarme incendie : venez chercher votre enfant."
    )
    director.get_by_label("Point de rassemblement").fill("Parc des Braves")
    director.get_by_role("button", name=START).click()
    expect(director.locator(".emergency-active")).to_be_visible()


def test_an_evacuation_drill_switches_every_board_and_counts_everyone(
    live_server: LiveServer,
    new_tablet: Callable[..., Page],
    wall: Callable[..., Page],
    inbox: Inbox,
) -> None:
    reception = new_tablet("accueil@example.org", sound=False)
    educator = new_tablet("educatrice@example.org", sound=False)
    screen = wall()
    director = new_tablet("direction@example.org", path="/admin", sound=False)
    lea = _child_id(live_server, "C-LEA")

    _start(director, "evacuation", drill=True)
    for board in (reception, educator, screen):
        banner = board.locator("#emergency .emergency__banner")
        expect(banner).to_contain_text("Urgence")
        expect(banner).to_contain_text("Exercice d’évacuation")
        expect(board.locator("#live")).to_be_hidden()  # an evacuation replaces the board
    total = int(reception.locator("#roll-counts").get_attribute("data-missing") or 0)
    assert total > 40
    expect(screen.locator("#emergency .roll__present")).to_have_count(0)  # the wall only shows

    # A check on one tablet reaches the other tablet and the wall within a second.
    reception.locator(f"#roll-{lea}").get_by_role("button", name="Présent").click()
    for board in (educator, screen):
        expect(board.locator(f"#roll-{lea}")).to_have_attribute(
            "data-status", "present", timeout=1000
        )
    # Taken back within 10 seconds, on the other tablet: everywhere again.
    educator.locator(f"#roll-{lea}").get_by_role("button", name="Annuler").click()
    expect(reception.locator(f"#roll-{lea}")).to_have_attribute("data-status", "pending")
    expect(screen.locator("#roll-counts")).to_have_attribute("data-missing", str(total))

    # Everyone checked off, the two tablets sharing the work.
    for count in range(total):
        tablet = reception if count % 2 else educator
        # Caught up with the other tablet's last check first (else both press one child).
        expect(tablet.locator("#roll-counts")).to_have_attribute("data-missing", str(total - count))
        tablet.locator("#emergency .roll__present").first.click()
        expect(tablet.locator("#roll-counts")).to_have_attribute(
            "data-missing", str(total - count - 1)
        )
    for board in (reception, educator, screen):
        expect(board.locator("#roll-counts")).to_contain_text("Tous les enfants sont comptés")

    # A drill tells no family: no email, no banner on the parent's page.
    director.get_by_role("link", name="Mettre fin à l’urgence").first.click()
    director.get_by_role("button", name="Oui, mettre fin à l’urgence").click()
    expect(director.locator("#accounted-after")).not_to_contain_text("pas encore")
    for board in (reception, educator, screen):
        expect(board.locator("#emergency")).to_be_hidden()
        expect(board.locator("#live")).to_be_visible()
    assert inbox.messages == []


def test_a_real_closure_tells_the_family_and_hands_lea_to_julie_by_her_photo(
    live_server: LiveServer,
    new_tablet: Callable[..., Page],
    inbox: Inbox,
    portraits: None,
) -> None:
    parent = new_tablet("accueil@example.org", sound=False)  # a context of its own
    sign_in_parent(parent, live_server.url)
    expect(parent.locator(".emergency-banner")).to_have_count(0)
    reception = new_tablet("accueil@example.org", sound=False)
    director = new_tablet("direction@example.org", path="/admin", sound=False)
    lea = _child_id(live_server, "C-LEA")

    _start(director, "closure", drill=False)
    expect(reception.locator("#emergency .emergency__banner")).to_contain_text("Fermeture")
    parent.reload()
    banner = parent.locator(".emergency-banner")
    expect(banner).to_contain_text("Fermeture d’urgence")
    expect(banner).to_contain_text("Parc des Braves")
    ((told,),) = live_server.sql("SELECT families_told FROM emergency")
    mails = inbox.wait_for(int(told))
    (to_parent,) = [m for m in mails if m.to == ["parent@example.org"]]
    assert "Fermeture d’urgence" in to_parent.subject and "Parc des Braves" in to_parent.body

    reception.locator(f"#roll-{lea}").get_by_role("button", name="Remettre…").click()
    dialog = reception.locator("dialog.roll-release")
    photo = dialog.get_by_role("img", name="Photo de Julie Tremblay")
    expect(photo).to_be_visible()
    photo.evaluate("img => img.decode()")  # the approved photo itself, loaded and shown
    assert photo.evaluate("img => img.naturalWidth") > 0
    expect(dialog).to_contain_text("Denise Tremblay")
    expect(dialog).to_contain_text("appelez la direction")
    # A stranger is not on the list, and the server refuses one slipped into the form.
    ((stranger,),) = live_server.sql(
        "SELECT id FROM guardian WHERE external_id NOT IN ('G-TREMBLAY', 'A-TREMBLAY-DENISE')"
        " ORDER BY id LIMIT 1"
    )
    julie = reception.get_by_role("button", name="Remis à Julie Tremblay")
    dialog.locator("form", has=julie).locator("input[name=handed_to]").evaluate(
        "(input, id) => { input.value = String(id); }", stranger
    )
    dialog.get_by_role("button", name="Remis à Julie Tremblay").click()
    expect(reception.locator("#toast")).to_contain_text("Appelez la direction")
    expect(reception.locator(f"#roll-{lea}")).not_to_have_attribute("data-status", "released")
    reception.locator(f"#roll-{lea}").get_by_role("button", name="Remettre…").click()
    reception.locator("dialog.roll-release").get_by_role(
        "button", name="Remis à Julie Tremblay"
    ).click()
    expect(reception.locator(f"#roll-{lea}")).to_have_attribute("data-status", "released")

    director.get_by_role("link", name="Mettre fin à l’urgence").first.click()
    director.get_by_role("button", name="Oui, mettre fin à l’urgence").click()
    rows = director.locator("#timeline tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("Début de l’urgence")
    expect(rows.nth(1)).to_contain_text("Léa Tremblay")
    expect(rows.nth(1)).to_contain_text("Julie Tremblay")
    expect(rows.nth(2)).to_contain_text("Fin de l’urgence")
