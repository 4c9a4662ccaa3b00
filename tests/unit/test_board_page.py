"""The board page's group filter (server/web/board/page.py): each group has one chip."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests.helpers import login


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
