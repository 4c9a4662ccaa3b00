"""Injection payloads in every field Relais renders, entered the ways data really arrives (the
roster API, the staff, token, display and integration forms, a parent inviting someone, the
sign-in form, query strings), then read back on every page and socket that shows them: each
appears escaped, as text, and never as markup, script or template."""

from __future__ import annotations

from typing import Any

import pytest
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server.core.models import Installation
from tests.helpers import B_TOKEN, api_headers, in_db
from tests.security.conftest import B_DISPLAY, ORIGIN, World, browser, post

# Markup, an attribute break-out, quotes, a template expression, an SQL fragment.
ATTACK = """<script>alert(1)</script>"'><img src=x onerror=alert(2)>{{7*7}}${7*7}');--"""
RAW = ("<script>", "<img src=x", "onerror=alert(2)>")


def payload(field: str) -> str:
    """The attack, tagged with the field it went into (so each field is found again)."""
    return f"{field}{ATTACK}"


FIELDS = {
    "installation": payload("Inst"),
    "group": payload("Grp"),
    "child_first": payload("Kid"),
    "child_last": payload("Fam"),
    "guardian_first": payload("Gfirst"),
    "guardian_last": payload("Glast"),
    "staff": payload("Staff"),
    "token": payload("Tok"),
    "display": payload("Wall"),
    "person_first": payload("Pfirst"),
    "person_last": payload("Plast"),
    "centre_name": payload("Centre"),
}


def shown(field: str, text: str) -> bool:
    return str(escape(FIELDS[field])) in text


def assert_inert(text: str, where: str) -> None:
    for raw in RAW:
        assert raw not in text, f"{where} shows {raw!r} unescaped"


@pytest.fixture
def poisoned(world: World) -> World:
    """Organization B's data, every name an attack, entered as it would arrive."""
    client = world.client
    roster = {
        "installations": [
            {
                "id": "B-NORD",
                "name": FIELDS["installation"],
                "groups": [
                    {"id": "B-PING", "name": FIELDS["group"]},
                    {"id": "B-OURS", "name": "Les Oursons"},
                ],
            },
            {"id": "B-SUD", "name": "Bêta Sud", "groups": [{"id": "B-S1", "name": "Sud"}]},
        ],
        "guardians": [
            {
                "id": "B-G1",
                "first_name": FIELDS["guardian_first"],
                "last_name": FIELDS["guardian_last"],
                "email": "parent@beta.example",
            }
        ],
        "children": [
            {
                "id": child,
                "first_name": FIELDS["child_first"],
                "last_name": FIELDS["child_last"],
                "installation_id": "B-NORD",
                "group_id": "B-PING",
                "guardian_ids": ["B-G1"],
            }
            for child in ("B-C1", "B-C2", "B-C3")
        ],
    }
    applied = client.put("/api/v1/roster", headers=api_headers(B_TOKEN), json=roster)
    assert applied.status_code == 200, applied.text

    admin = browser(world, "b-admin")
    invited = post(
        admin,
        "/admin/staff",
        {"email": "nouveau@beta.example", "name": FIELDS["staff"], "role": "admin"},
    )
    assert invited.status_code == 303, invited.text
    assert post(admin, "/admin/tokens", {"name": FIELDS["token"]}).status_code == 303
    display = post(
        admin,
        "/admin/displays",
        {
            "name": FIELDS["display"],
            "installation_id": str(world.b.installation),
            "group_id": "all",
        },
    )
    assert display.status_code == 303
    sud_id = _installation_id(world, "B-SUD")
    created = post(
        admin,
        f"/admin/integrations/{sud_id}/create",
        {
            "display_name": FIELDS["centre_name"],
            "email": "centre.sud@beta.example",
            "password": "un mot de passe assez long",
            "password_confirmation": "un mot de passe assez long",
        },
    )
    assert created.status_code == 303, created.text

    parent = browser(world, "b-parent")
    person = post(
        parent,
        "/parent/people",
        {
            "first_name": FIELDS["person_first"],
            "last_name": FIELDS["person_last"],
            "email": "grandmaman@beta.example",
        },
    )
    assert person.status_code == 303, person.text
    return world


def _installation_id(world: World, external: str) -> int:
    async def load(session: AsyncSession) -> int:
        found = (
            await session.execute(
                select(col(Installation.id)).where(col(Installation.external_id) == external)
            )
        ).scalar_one()
        assert found is not None
        return int(found)

    return in_db(world.database_url, load)


# Where each field must be found again, escaped: (who looks, what they open) → fields.
PAGES: dict[tuple[str, str], tuple[str, ...]] = {
    ("b-reception", "/board?group=all"): ("installation", "group", "child_first", "child_last"),
    ("b-anonymous", f"/display/{B_DISPLAY}"): ("installation", "child_first", "child_last"),
    ("b-parent", "/parent"): ("child_first", "person_first", "person_last"),
    ("b-centre", "/portal/students"): ("child_first", "guardian_first", "guardian_last"),
    ("b-admin", "/admin"): (),
    ("b-admin", "/admin/displays"): ("installation", "group", "display"),
    ("b-admin", "/admin/parents"): ("guardian_first",),
    ("b-admin", "/admin/staff"): ("staff", "installation"),
    ("b-admin", "/admin/tokens"): ("token",),
    ("b-admin", "/admin/log"): ("child_first", "guardian_first", "installation"),
    ("b-admin", "/admin/overview"): ("installation",),
    ("b-admin", "/admin/reports"): ("installation",),
    ("b-admin", "/admin/integrations"): ("installation", "centre_name"),
}


@pytest.mark.parametrize(("role", "path"), list(PAGES))
def test_every_page_shows_the_payloads_as_text(poisoned: World, role: str, path: str) -> None:
    page = browser(poisoned, role).get(path)
    assert page.status_code == 200, page.text[:500]
    assert_inert(page.text, path)
    for field in PAGES[(role, path)]:
        assert shown(field, page.text), f"{field} not shown (escaped) on {path}"


def _first(client: TestClient, url: str) -> dict[str, Any]:
    with client.websocket_connect(url, headers={"origin": ORIGIN}) as ws:
        message: dict[str, Any] = ws.receive_json()
    return message


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("b-reception", "/board/ws?group=all"),
        ("b-anonymous", f"/board/ws?display={B_DISPLAY}"),
        ("b-parent", "/parent/ws"),
    ],
)
def test_live_fragments_carry_the_payloads_as_text(poisoned: World, role: str, url: str) -> None:
    content = str(_first(browser(poisoned, role), url)["content"])
    assert_inert(content, url)
    assert shown("child_first", content)


def test_typed_and_query_values_are_echoed_as_text(world: World) -> None:
    client = browser(world, "b-anonymous")
    client.get("/login")
    answer = post(client, "/login", {"email": ATTACK, "password": "x", "next": ATTACK})
    assert answer.status_code == 400
    assert_inert(answer.text, "/login")
    assert str(escape(ATTACK.strip().lower())) in answer.text
    page = client.get("/login", params={"next": ATTACK, "lang": "fr", "x": ATTACK})
    assert_inert(page.text, "/login?next=")
    admin = browser(world, "b-admin")
    log = admin.get("/admin/log", params={"child": ATTACK, "from": ATTACK})
    assert log.status_code == 400
    assert_inert(log.text, "/admin/log?child=")
    parent = browser(world, "b-parent")
    parent.get("/parent/login")
    wrong = post(parent, "/parent/forgot", {"email": ATTACK})
    assert_inert(wrong.text, "/parent/forgot")


def test_the_api_returns_the_payloads_as_json_strings(poisoned: World) -> None:
    children = poisoned.client.get("/api/v1/children", headers=api_headers(B_TOKEN))
    assert children.headers["content-type"].startswith("application/json")
    assert {c["first_name"] for c in children.json()} == {FIELDS["child_first"]}
