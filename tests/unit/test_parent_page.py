"""What the parent's page says (issue 13), through HTTP: the staff's own word for each state,
« Prêt » as a sentence that fills the card, the quiet change/cancel, the GPS panel when a trip
is under way, the reason the announce buttons give when nothing is ticked, the translated
file picker, and counts through ngettext."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from server.core.i18n import use_locale
from server.pickups.messages import family_state_label, status_label
from tests.helpers import announce, api_headers, parent_login

PICKUP_STATES = ("scheduled", "tracking", "announced", "called", "ready", "departed")


@pytest.mark.parametrize("locale", ["fr_CA", "en"])
def test_parents_and_staff_share_one_word_per_state(locale: str) -> None:
    with use_locale(locale):
        parent = [family_state_label(s) for s in PICKUP_STATES]
        staff = [status_label(s) for s in PICKUP_STATES]
    assert parent == staff
    assert len(set(staff)) == len(staff)  # and each state its own word


def test_the_french_words_are_calm_and_plain() -> None:
    with use_locale("fr_CA"):
        words = [status_label(s) for s in PICKUP_STATES]
    assert words == ["Prévu", "En route", "Arrive bientôt", "En préparation", "Prêt", "Parti"]


def card_of(page: str, first_name: str) -> str:
    """The status card of one child, from its opening tag to the next card."""
    cards = re.split(r'(?=<li class="kid )', page)
    [card] = [c for c in cards if f'<strong class="kid__name">{first_name} ' in c]
    return card


def step(client: TestClient, pickup_id: int, *statuses: str) -> None:
    for status in statuses:
        answer = client.post(
            f"/api/v1/pickups/{pickup_id}/status", headers=api_headers(), json={"status": status}
        )
        assert answer.status_code == 200, answer.text


def test_ready_fills_the_card_with_a_sentence_and_cancel_stays_folded(client: TestClient) -> None:
    pickup = announce(client, eta="16:02", status="announced")
    step(client, pickup["id"], "called", "ready")
    parent_login(client)
    lea = card_of(client.get("/parent").text, "Léa")
    assert 'class="kid__status kid__status--ready" role="alert"' in lea
    assert '<strong class="kid__state">Prêt</strong>' in lea
    assert "Léa vous attend — présentez-vous à la porte" in lea
    # Cancelling is there, folded and link-like: never the loudest thing on the card.
    assert re.search(r"<details class=\"kid__more\">\s*<summary>Annuler l’arrivée…</summary>", lea)
    assert "button--danger" not in lea
    english = client.get("/parent?lang=en").text
    assert "Léa is ready — come to the door" in card_of(english, "Léa")


def test_a_time_announced_can_be_changed_or_cancelled_behind_one_quiet_summary(
    client: TestClient,
) -> None:
    announce(client, eta="16:30", status="scheduled")
    parent_login(client)
    lea = card_of(client.get("/parent").text, "Léa")
    assert '<strong class="kid__state">Prévu</strong>' in lea
    assert "Arrivée à 16:30" in lea
    assert "<summary>Changer l’heure ou annuler</summary>" in lea
    assert 'name="eta"' in lea and "kid__cancel" in lea
    noah = card_of(client.get("/parent").text, "Noah")
    assert "Au service de garde" in noah and "<details" not in noah


def test_a_gps_trip_under_way_shows_the_panel_honestly_without_script(client: TestClient) -> None:
    announce(client, mode="gps", latitude=46.8139 + 8 / 111.2, longitude=-71.2082)
    parent_login(client)
    page = client.get("/parent").text
    lea = card_of(page, "Léa")
    assert 'data-mode="gps"' in lea and "En route" in lea
    assert re.search(r"À environ \d+ min", lea)
    # Until the phone shares again, the page says the estimate is the last one.
    trip = page[page.index('<section id="trip"') :]
    trip = trip[: trip.index("</section>")]
    assert "hidden" not in trip.split(">", 1)[0]
    assert 'data-state="stopped"' in trip
    assert "Le partage de votre position est arrêté" in trip
    assert "Reprendre le partage" in trip
    assert "Dernière estimation, qui n’est plus mise à jour." in lea


def test_without_a_trip_the_gps_panel_stays_hidden(client: TestClient) -> None:
    parent_login(client)
    page = client.get("/parent").text
    assert re.search(r'<section id="trip"[^>]* hidden', page)


@pytest.mark.parametrize(
    ("lang", "age", "reason"),
    [
        (
            "fr",
            ("Position envoyée il y a {n} seconde", "Position envoyée il y a {n} secondes"),
            "Cochez un enfant d’abord",
        ),
        (
            "en",
            ("Position sent {n} second ago", "Position sent {n} seconds ago"),
            "Tick a child first",
        ),
    ],
)
def test_the_page_carries_its_counts_and_reasons_in_its_language(
    client: TestClient, lang: str, age: tuple[str, str], reason: str
) -> None:
    parent_login(client)
    page = client.get(f"/parent?lang={lang}").text
    assert f'data-sent-s-one="{age[0]}"' in page
    assert f'data-sent-s-other="{age[1]}"' in page
    assert f'<p id="pick-first" class="pick-first" role="status" hidden>{reason}</p>' in page
    # Children ticked by default; their boxes belong to the announce form beside the cards.
    assert page.count('form="announce" checked') == 2
    assert page.count('class="button button--big needs-child">+10 min<') == 1


@pytest.mark.parametrize(
    ("lang", "button", "none"),
    [
        ("fr", "Choisir une photo", "Aucune photo choisie"),
        ("en", "Choose a photo", "No photo chosen"),
    ],
)
def test_the_photo_picker_is_a_translated_button_over_the_native_input(
    client: TestClient, lang: str, button: str, none: str
) -> None:
    parent_login(client)
    page = client.get(f"/parent?lang={lang}").text
    form = page[page.index('<form id="photo-form-guardian-') :]
    form = form[: form.index("</form>")]
    assert re.search(r'<input type="file" id="(photo-form-guardian-\d+)-file" name="photo"', form)
    assert re.search(rf'<label for="photo-form-guardian-\d+-file"[^>]*>{button}</label>', form)
    assert f">{none}</span>" in form
    assert 'aria-labelledby="photo-form-guardian-' in form
