"""The board page (server/web/board/page.py): each group has one chip; the installation a
director chose last is the one /board opens on (a cookie; never one they may no longer see);
the staff menu says who is signed in and as what (« Marie Gagnon · Direction »), never a bare
« Accueil » that reads like a "Home" link."""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from server import demo
from server.core.models import Role
from server.core.security import hash_password
from server.web.board.page import INSTALLATION_COOKIE
from tests.helpers import T0, demo_ids, in_db, login, organization_id

DIRECTOR = "direction@example.org"


def place(html: str) -> str:
    """The installation named in the page's top bar."""
    found = re.search(r'<span class="topbar__place">([^<]+)</span>', html)
    assert found is not None
    return found.group(1)


def menu_button(html: str) -> str:
    """The staff menu's button, as text."""
    found = re.search(
        r'<details class="menu" id="user-menu">\s*(?:\{#.*?#\}\s*)?<summary[^>]*>(.*?)</summary>',
        html,
        re.S,
    )
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1))


def test_the_director_s_board_opens_on_the_installation_chosen_last(
    client: TestClient, database_url: str
) -> None:
    ids = demo_ids(database_url)
    login(client, DIRECTOR)
    # Never chosen: the first by name.
    assert place(client.get("/board").text) == "Pavillon des Bouleaux"
    chosen = client.get(f"/board?installation={ids['ERA']}&group=all")
    assert place(chosen.text) == "Pavillon des Érables"
    # The sign-in's landing page and "Back to the board" (plain /board) open it again.
    assert place(client.get("/board").text) == "Pavillon des Érables"
    assert place(client.get("/board?group=all").text) == "Pavillon des Érables"
    # Choosing another one moves the memory.
    client.get(f"/board?installation={ids['BOU']}&group=all")
    assert place(client.get("/board").text) == "Pavillon des Bouleaux"


def test_a_remembered_installation_no_longer_visible_falls_back(
    client: TestClient, database_url: str
) -> None:
    ids = demo_ids(database_url)
    login(client, "accueil@example.org")  # reception: Pavillon des Érables only
    client.cookies.set(INSTALLATION_COOKIE, str(ids["BOU"]), path="/board")
    page = client.get("/board")
    assert page.status_code == 200
    assert place(page.text) == "Pavillon des Érables"
    client.cookies.set(INSTALLATION_COOKIE, "not-an-id", path="/board")
    assert place(client.get("/board").text) == "Pavillon des Érables"
    # One installation to choose from: nothing to remember.
    assert INSTALLATION_COOKIE not in client.get(f"/board?installation={ids['ERA']}").cookies


def test_the_staff_menu_shows_the_name_and_the_role(client: TestClient, database_url: str) -> None:
    org = organization_id(database_url)

    async def marie(session: AsyncSession) -> None:
        fields = ("Marie Gagnon", Role.ADMIN, hash_password("marie-secret-2026"), T0)
        await demo.staff(session, org, "marie.gagnon@example.org", *fields)

    in_db(database_url, marie)
    login(client, "marie.gagnon@example.org", "marie-secret-2026")
    assert menu_button(client.get("/board").text) == "Marie Gagnon · Direction"
    assert menu_button(client.get("/board?lang=en").text) == "Marie Gagnon · Administrator"

    # The demo's reception account is named « Accueil », like its role: its address shows.
    login(client, "accueil@example.org")
    assert menu_button(client.get("/board?lang=fr").text) == "accueil@example.org · Accueil"
    login(client, "educatrice@example.org")
    assert menu_button(client.get("/board").text) == "Éducatrice des Lutins · Éducatrice"


def test_the_educators_own_group_has_one_chip(client: TestClient) -> None:
    login(client, "educatrice@example.org")
    page = client.get("/board?group=mine")
    assert page.status_code == 200
    nav = page.text[page.text.index('<nav class="filters"') :]
    chips = re.findall(r'<a class="chip"[^>]*>([^<]+)</a>', nav[: nav.index("</nav>")])
    # « Mon groupe (Les Lutins) », then every group once: no second « Les Lutins ».
    assert chips == [
        "Mon groupe (Les Lutins)",
        "Tous les groupes",
        "Les Explorateurs",
        "Les Hiboux",
    ]
    assert re.search(r'group=mine"\s+aria-current="page"', nav)
