"""/admin is a short summary (photos waiting for an answer, one card per section with its key
figure), every section has its own page, and the administration's menu lists each section with
the current one marked (aria-current)."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from tests.helpers import login

DIRECTOR = "direction@example.org"

# Every section of the menu: its page, its French label.
SECTIONS = {
    "/admin": "Sommaire",
    "/admin/overview": "Vue d’ensemble",
    "/admin/integrations": "Intégrations",
    "/admin/staff": "Personnel",
    "/admin/displays": "Écrans muraux",
    "/admin/parents": "Parents",
    "/admin/tokens": "Jetons d’API",
    "/admin/log": "Registre des départs",
    "/admin/reports": "Rapports",
    "/admin/roster": "Importation de la liste",
    "/admin/privacy": "Confidentialité",
    "/admin/incidents": "Incidents",
    "/admin/emergency": "Urgences",
}


def nav(html: str) -> list[tuple[str, str, bool]]:
    """The menu's entries: (href, label, current)."""
    menu = html.split('<nav class="admin-nav"', 1)[1].split("</nav>", 1)[0]
    return [
        (href, label, bool(current))
        for href, current, label in re.findall(
            r'<a class="chip" href="([^"]+)"( aria-current="page")?>([^<]+)</a>', menu
        )
    ]


@pytest.mark.parametrize("path", list(SECTIONS))
def test_every_page_lists_every_section_and_marks_its_own(client: TestClient, path: str) -> None:
    login(client, DIRECTOR)
    page = client.get(path)
    assert page.status_code == 200
    entries = nav(page.text)
    assert [(href, label) for href, label, _current in entries] == list(SECTIONS.items())
    assert [href for href, _label, current in entries if current] == [path]


def test_the_summary_is_short_and_links_every_section(client: TestClient) -> None:
    login(client, DIRECTOR)
    page = client.get("/admin").text
    main = page.split('<main class="admin admin-home">', 1)[1]
    cards = re.findall(r'<li class="admin-section card">\s*<h2><a href="([^"]+)">', main)
    assert cards == [path for path in SECTIONS if path != "/admin"]
    # The key figures of the demo.
    for figure in (
        "2 installations",
        "Reliées\u00a0: 2 sur 2",
        "3 comptes actifs",
        "1 jeton en usage",
    ):
        assert f'<p class="admin-section__figure">{figure}</p>' in main
    assert re.search(r"admin-section__figure\">Comptes activés\u00a0: 1 sur \d+<", main)
    assert re.search(r'admin-section__figure">\d+ enfants actifs<', main)
    # The long lists live on their own pages now.
    assert 'id="guardian-' not in main and 'name="installation_id"' not in main
    assert "Aucune photo en attente d’approbation." in main


def test_the_parents_list_and_the_displays_have_their_own_pages(client: TestClient) -> None:
    login(client, DIRECTOR)
    parents = client.get("/admin/parents").text
    assert parents.count('id="guardian-') >= 80
    displays = client.get("/admin/displays").text
    assert 'action="/admin/displays"' in displays and "Créer un lien d’écran mural" in displays


def test_an_old_parents_link_opens_the_parents_page(client: TestClient) -> None:
    login(client, DIRECTOR)
    moved = client.get("/admin?invite_wait=12", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == "/admin/parents?invite_wait=12"


@pytest.mark.parametrize("path", ["/admin", "/admin/displays", "/admin/parents"])
def test_staff_who_are_not_directors_are_refused(client: TestClient, path: str) -> None:
    login(client, "accueil@example.org")
    assert client.get(path).status_code == 403
