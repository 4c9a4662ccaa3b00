"""PostgreSQL lost under a running server (a restart, a network cut): every request says the
database is not answering, nothing half-done is kept, and once it is back the same server
carries on with fresh connections. The cut is real: a TCP proxy between the app and
PostgreSQL drops every connection and refuses new ones."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from server.core.clock import ManualClock
from server.core.settings import Settings
from tests import databases
from tests.e2e.conftest import LiveServer, TcpProxy, serving
from tests.helpers import PASSWORD

pytestmark = pytest.mark.e2e

LEA_AT_THE_DOOR = {
    "child_id": "C-LEA",
    "guardian_id": "G-TREMBLAY",
    "mode": "gps",
    "latitude": 46.8139,
    "longitude": -71.2082,
}


@pytest.fixture
def through_proxy(settings: Settings, clock: ManualClock) -> Iterator[tuple[LiveServer, TcpProxy]]:
    if not databases.using_postgres():
        pytest.skip("SQLite is a file, not a server: this runs in the PostgreSQL run")
    url = make_url(settings.database_url)
    proxy = TcpProxy(url.port or 5432)
    cut_able = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        with serving(dataclasses.replace(settings, database_url=cut_able), clock) as server:
            yield server, proxy
    finally:
        proxy.close()


def test_a_lost_database_is_said_plainly_and_the_server_recovers(
    through_proxy: tuple[LiveServer, TcpProxy],
) -> None:
    server, proxy = through_proxy
    assert server.api("GET", "/children").status_code == 200

    proxy.cut()
    refused = server.api("POST", "/pickups", json=LEA_AT_THE_DOOR)
    assert refused.status_code == 503
    assert "base de données" in refused.json()["detail"]  # French first, as every page
    health = httpx.get(f"{server.url}/healthz")
    assert health.status_code == 503 and health.json()["status"] == "error"
    with httpx.Client(base_url=server.url, headers={"Accept-Language": "fr-CA"}) as browser:
        browser.get("/login")  # the form itself needs no database
        signing_in = browser.post(
            "/login",
            data={
                "email": "accueil@example.org",
                "password": PASSWORD,
                "csrf_token": browser.cookies["relais_csrf"],
            },
        )
    assert signing_in.status_code == 503
    assert "La base de données ne répond pas" in signing_in.text

    proxy.restore()
    made = server.api("POST", "/pickups", json=LEA_AT_THE_DOOR)
    assert made.status_code == 201, made.text
    # The refused announcement left nothing behind: Léa has exactly one pickup.
    lea = [p for p in server.api("GET", "/pickups").json() if p["child_id"] == "C-LEA"]
    assert len(lea) == 1
    assert httpx.get(f"{server.url}/healthz").status_code == 200
