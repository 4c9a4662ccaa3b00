"""A Redis outage under a running app: boards are told, and what the bus could not carry
meanwhile (a sign-out) still takes effect when it returns. A real, throwaway redis-server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.core.clock import ManualClock
from server.core.settings import Settings
from server.realtime.hub import CLOSE_SESSION_ENDED
from tests.helpers import another_browser, board, login, receive, run_async
from tests.redis_server import RedisServer
from tests.unit.test_realtime import EDUCATOR, RECEPTION

METRICS = "metrics-token-for-tests"
MONITORING = {"Authorization": f"Bearer {METRICS}"}


@pytest.fixture
def client_on_redis(
    settings: Settings, clock: ManualClock, redis_server: RedisServer
) -> Iterator[TestClient]:
    app = create_app(
        dataclasses.replace(settings, redis_url=redis_server.url, metrics_token=METRICS),
        clock=clock,
        background=False,
    )
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def test_a_sign_out_during_an_outage_closes_its_boards_when_redis_returns(
    client_on_redis: TestClient, redis_server: RedisServer
) -> None:
    reception = client_on_redis
    educator = another_browser(reception)
    login(reception, RECEPTION)
    login(educator, EDUCATOR)
    with board(reception) as (signed_out, _), board(educator) as (still_in, _):
        assert reception.get("/healthz", headers=MONITORING).json()["realtime"] == "ok"
        redis_server.kill()
        assert receive(signed_out) == {"status": "degraded"}
        assert receive(still_in) == {"status": "degraded"}
        health = reception.get("/healthz", headers=MONITORING)
        assert health.status_code == 200  # the database still works: keep this worker
        assert health.json()["status"] == "degraded" and health.json()["realtime"] == "down"

        # The sign-out commits, but its "close these boards" message has no bus to ride.
        token = reception.cookies.get("relais_csrf")
        out = reception.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert out.status_code == 303

        run_async(redis_server.start)
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(signed_out)
        assert closed.value.code == CLOSE_SESSION_ENDED
        # The other board stays and resyncs through a fresh snapshot.
        assert receive(still_in)["snapshot"] is True
