"""Families during a real emergency closure (server/emergency/families.py and the parent
side): every guardian of a child present is emailed and, when they turned it on, told on the
phone; the parent page shows « Fermeture d’urgence » with the assembly point; an arrival
announced then skips the call window and the preparation time. A drill tells nobody."""

from __future__ import annotations

import asyncio
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from server.core.models import Child, Emergency, OutboxMessage, Pickup
from server.core.settings import Settings
from tests.helpers import (
    another_browser,
    api_headers,
    csrf,
    demo_ids,
    in_db,
    page_text,
    set_call_window,
    sign_in_as,
    submit,
)
from tests.push_service import PushService, demo_settings, drain, services, subscribe

PARENT = "parent@example.org"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return demo_settings(database_url, tmp_path, push_retry_seconds=0.01, push_timeout_seconds=2.0)


def _start(director: TestClient, database_url: str, *, drill: bool) -> None:
    fields = {
        "installation_id": str(demo_ids(database_url)["ERA"]),
        "kind": "evacuation",
        "message": "Alarme incendie: venez chercher votre enfant.",
        "assembly_point": "Parc des Braves",
    }
    if drill:
        fields["drill"] = "1"
    answer = submit(director, "/admin/emergency", fields, follow_redirects=False)
    assert answer.status_code == 303
    # The emails go from a background task: wait for it, as the server would finish it.
    assert director.portal is not None

    async def settle() -> None:
        await asyncio.gather(*list(services(director).hub.background))

    director.portal.call(settle)


def _outbox(database_url: str, to: str) -> list[OutboxMessage]:
    async def work(session: Any) -> list[OutboxMessage]:
        return list((await session.scalars(select(OutboxMessage).filter_by(to=to))).all())

    return in_db(database_url, work)


def test_a_real_emergency_tells_the_family_by_email_phone_and_page(
    client: TestClient, database_url: str, push_server: PushService
) -> None:
    director = sign_in_as(client, database_url, "admin", "direction@example.org")
    parent = sign_in_as(another_browser(client), database_url, "parent", PARENT)
    phone = push_server.browser("phone")
    assert subscribe(parent, phone).status_code == 201
    assert "Fermeture d’urgence" not in page_text(parent, "/parent")
    _start(director, database_url, drill=False)
    (email,) = _outbox(database_url, PARENT)
    assert "Fermeture d’urgence" in email.subject and "Parc des Braves" in email.body
    page = page_text(parent, "/parent")
    assert "Fermeture d’urgence" in page and "Point de rassemblement : Parc des Braves" in page
    drain(client)
    (delivery,) = push_server.to("phone")
    told = phone.decrypt(delivery)
    assert told["state"] == "emergency" and told["title"] == "Fermeture d’urgence"
    assert "Parc des Braves" in told["body"]
    assert delivery.headers["urgency"] == "high"


def test_a_drill_tells_no_family(
    client: TestClient, database_url: str, push_server: PushService
) -> None:
    director = sign_in_as(client, database_url, "admin", "direction@example.org")
    parent = sign_in_as(another_browser(client), database_url, "parent", PARENT)
    phone = push_server.browser("phone")
    assert subscribe(parent, phone).status_code == 201
    _start(director, database_url, drill=True)
    assert _outbox(database_url, PARENT) == []
    assert "Fermeture d’urgence" not in page_text(parent, "/parent")
    drain(client)
    assert push_server.to("phone") == []


def test_an_arrival_during_a_real_emergency_skips_the_window_and_the_preparation(
    client: TestClient, database_url: str
) -> None:
    set_call_window(database_url, time(6, 0), time(7, 0))  # T0 (16:00) is outside it
    director = sign_in_as(client, database_url, "admin", "direction@example.org")
    parent = sign_in_as(another_browser(client), database_url, "parent", PARENT)
    lea = demo_ids_child(database_url, "C-LEA")
    fields = {
        "child_id": str(lea),
        "in_minutes": "20",
        **{"csrf_token": csrf(parent)["X-CSRF-Token"]},
    }
    refused = parent.post("/parent/announce", data=fields)
    assert "Relais n’est pas utilisé à cette heure" in refused.text  # refused as usual
    _start(director, database_url, drill=False)
    parent.post("/parent/announce", data=fields)

    async def work(session: Any) -> Pickup:
        found: Pickup = (await session.scalars(select(Pickup).filter_by(child_id=lea))).one()
        return found

    pickup = in_db(database_url, work)
    # On the board at once, 20 minutes before the arrival: no preparation time to wait for.
    assert pickup.status == "announced" and pickup.announced_at == pickup.created_at


def test_a_gps_trip_during_a_real_emergency_is_on_the_board_at_once(
    client: TestClient, database_url: str
) -> None:
    set_call_window(database_url, time(6, 0), time(7, 0))  # T0 (16:00) is outside it
    director = sign_in_as(client, database_url, "admin", "direction@example.org")
    parent = sign_in_as(another_browser(client), database_url, "parent", PARENT)
    htmx = {**csrf(parent), "HX-Request": "true"}  # as the page's script sends them
    assert parent.post("/parent/consent/location", headers=htmx).status_code == 204
    lea = demo_ids_child(database_url, "C-LEA")
    # Some 20 km away: far beyond the preparation time on an ordinary day.
    trip = {"child_id": str(lea), "latitude": "46.98", "longitude": "-71.40"}
    refused = parent.post("/parent/trip/start", data=trip, headers=htmx)
    assert "Relais n’est pas utilisé à cette heure" in refused.text  # refused as usual
    _start(director, database_url, drill=False)
    assert parent.post("/parent/trip/start", data=trip, headers=htmx).status_code == 200

    async def work(session: Any) -> Pickup:
        found: Pickup = (await session.scalars(select(Pickup).filter_by(child_id=lea))).one()
        return found

    pickup = in_db(database_url, work)
    assert pickup.mode == "gps" and pickup.gps_minutes and pickup.gps_minutes > 10
    assert pickup.status == "announced" and pickup.announced_at == pickup.created_at


def test_an_open_parent_page_shows_the_banner_as_the_emergency_starts_and_ends(
    client: TestClient, database_url: str
) -> None:
    director = sign_in_as(client, database_url, "admin", "direction@example.org")
    parent = sign_in_as(another_browser(client), database_url, "parent", PARENT)
    origin = {"origin": "http://testserver"}
    with parent.websocket_connect("/parent/ws", headers=origin) as phone:
        first = phone.receive_json()
        assert "Léa" in first["content"] and "Fermeture d’urgence" not in first["content"]
        _start(director, database_url, drill=False)
        started = phone.receive_json()
        assert started["family"] is True
        assert 'id="emergency-notices" hx-swap-oob="true"' in started["content"]
        assert "Fermeture d’urgence" in started["content"]
        assert "Point de rassemblement : Parc des Braves" in started["content"]
        (emergency,) = in_db(database_url, _emergencies)
        ended = submit(director, f"/admin/emergency/{emergency}/end", {}, follow_redirects=False)
        assert ended.status_code == 303
        over = phone.receive_json()
        while "emergency-notices" not in over["content"]:  # a roll change may come first
            over = phone.receive_json()
        assert "Fermeture d’urgence" not in over["content"]


async def _emergencies(session: Any) -> list[int]:
    return [e.id for e in (await session.scalars(select(Emergency))).all()]


def demo_ids_child(database_url: str, external_id: str) -> int:
    async def work(session: Any) -> int:
        child: Child = (
            await session.scalars(select(Child).filter_by(external_id=external_id))
        ).one()
        return child.id or 0

    return in_db(database_url, work)


def test_an_api_announcement_during_a_real_emergency_skips_the_window_too(
    client: TestClient, database_url: str
) -> None:
    set_call_window(database_url, time(6, 0), time(7, 0))
    body = {"child_id": "C-LEA", "guardian_id": "G-TREMBLAY", "mode": "eta", "eta": "16:30"}
    refused = client.post("/api/v1/pickups", headers=api_headers(), json=body)
    assert refused.status_code in (409, 422)
    director = sign_in_as(client, database_url, "admin", "direction@example.org")
    _start(director, database_url, drill=False)
    created = director.post("/api/v1/pickups", headers=api_headers(), json=body)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "announced"  # at once, 30 minutes before the arrival
