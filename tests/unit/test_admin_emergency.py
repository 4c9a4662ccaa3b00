"""/admin/emergency: a director starts a drill or a real closure, ends it with a
confirmation; reception only when the director allows it; the report and its CSV list
every step in order; a drill tells no family, a real closure emails each guardian."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from starlette.testclient import TestClient

from server.core.models import Emergency, OutboxMessage
from tests.helpers import T0, demo_ids, in_db, page_text, sign_in_as, submit


def _start(client: TestClient, ids: dict[str, int], **fields: str) -> Any:
    values = {
        "installation_id": str(ids["ERA"]),
        "kind": "evacuation",
        "drill": "1",
        "message": "Alarme incendie",
        "assembly_point": "Parc des Braves",
        **fields,
    }
    return submit(client, "/admin/emergency", values, follow_redirects=False)


def _emergencies(database_url: str) -> list[Emergency]:
    async def work(session):
        return list((await session.scalars(select(Emergency))).all())

    return in_db(database_url, work)


def _outbox(database_url: str) -> list[OutboxMessage]:
    async def work(session):
        return list((await session.scalars(select(OutboxMessage))).all())

    return in_db(database_url, work)


def test_admin_home_links_to_the_emergency_page(client: TestClient, database_url: str) -> None:
    sign_in_as(client, database_url, "admin", "direction@example.org")
    assert "Déclencher une fermeture d’urgence" in page_text(client, "/admin")


def test_a_drill_starts_tells_nobody_and_ends_with_who_ended_it(
    client: TestClient, database_url: str, clock
) -> None:
    sign_in_as(client, database_url, "admin", "direction@example.org")
    ids = demo_ids(database_url)
    before = len(_outbox(database_url))
    assert _start(client, ids).status_code == 303
    page = page_text(client, "/admin/emergency")
    assert "Exercice d’évacuation" in page
    (emergency,) = _emergencies(database_url)
    assert emergency.drill and emergency.ended_at is None
    assert len(_outbox(database_url)) == before  # a drill tells no family
    # A second start at the same installation is refused, the form kept.
    again = _start(client, ids, message="Deuxième")
    assert again.status_code == 400
    assert "déjà en cours" in again.text
    assert "Deuxième" in again.text
    confirm = page_text(client, f"/admin/emergency/{emergency.id}/end")
    assert "Oui, mettre fin" in confirm
    clock.advance(timedelta(minutes=3))
    ended = submit(client, f"/admin/emergency/{emergency.id}/end", follow_redirects=False)
    assert ended.status_code == 303
    (emergency,) = _emergencies(database_url)
    assert emergency.ended_by_name == "Direction"
    assert emergency.ended_at == T0 + timedelta(minutes=3)


def test_a_closure_cannot_be_a_drill(client: TestClient, database_url: str) -> None:
    sign_in_as(client, database_url, "admin", "direction@example.org")
    refused = _start(client, demo_ids(database_url), kind="closure")
    assert refused.status_code == 400
    assert not _emergencies(database_url)


def test_reception_starts_only_when_the_director_allows_it(
    client: TestClient, database_url: str
) -> None:
    sign_in_as(client, database_url, "reception", "accueil@example.org")
    assert client.get("/admin/emergency").status_code == 403
    director = TestClient(client.app, base_url=str(client.base_url))
    director.portal = client.portal
    sign_in_as(director, database_url, "admin", "direction@example.org")
    assert submit(director, "/admin/emergency/settings", {"reception": "1"}).status_code == 200
    page = page_text(client, "/admin/emergency")
    assert "Pavillon des Bouleaux" not in page  # reception sees its own installation only
    assert _start(client, demo_ids(database_url)).status_code == 303
    # Another installation's id is the same 404 as an unknown one.
    other = _start(
        client, demo_ids(database_url), installation_id=str(demo_ids(database_url)["BOU"])
    )
    assert other.status_code == 404


def test_an_educator_never_starts_one(client: TestClient, database_url: str) -> None:
    sign_in_as(client, database_url, "educator", "educatrice@example.org")
    assert client.get("/admin/emergency").status_code == 403
    assert _start(client, demo_ids(database_url)).status_code == 403
