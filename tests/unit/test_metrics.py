"""GET /metrics: Prometheus's text format for loopback or the metrics token, a 404 for anyone
else; and each figure moves when what it counts happens (an announcement reaching a board,
a board asking to resync, a board that stops reading, the event bus going down, a late
background tick)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import time
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient
from starlette.websockets import WebSocketState

from server import scheduler
from server.app import create_app
from server.core import metrics
from server.core.clock import ManualClock
from server.core.db import Database
from server.core.settings import Settings
from server.pickups.board import ViewKey
from server.realtime.broker import MemoryBroker
from server.realtime.hub import CLOSE_TOO_SLOW, BoardSocket, Hub, _Channel
from tests.helpers import T0, announce, board, login, receive, run_async
from tests.redis_server import RedisServer
from tests.unit.test_realtime import RECEPTION

TOKEN = "monitoring-token-for-tests"
LOCAL = ("127.0.0.1", 4000)
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: TestClient, **headers: str) -> Samples:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, missing: float | None = None, **labels: str) -> float:
    """The sample's value, summed over the labels not given (per-worker gauges have a pid);
    `missing` when it is not there (else that fails)."""
    wanted = set(labels.items())
    found = [v for (n, have), v in samples.items() if n == name and wanted <= have]
    if not found and missing is not None:
        return missing
    assert found, f"{name} {labels} is not exported"
    return sum(found)


@pytest.fixture
def monitored(settings: Settings, clock: ManualClock) -> Iterator[TestClient]:
    app = create_app(
        dataclasses.replace(settings, metrics_token=TOKEN), clock=clock, background=False
    )
    with TestClient(app, base_url="http://testserver", client=LOCAL) as client:
        yield client


def test_metrics_go_to_loopback_and_the_token_only(settings: Settings, clock: ManualClock) -> None:
    app = create_app(
        dataclasses.replace(settings, metrics_token=TOKEN), clock=clock, background=False
    )
    with TestClient(app, client=("203.0.113.7", 4000)) as stranger:
        assert stranger.get("/metrics").status_code == 404
        assert (
            stranger.get("/metrics", headers={"Authorization": "Bearer guess"}).status_code == 404
        )
        assert stranger.get("/metrics", headers={"Authorization": TOKEN}).status_code == 404
        assert "relais_up" in str(scrape(stranger, Authorization=f"Bearer {TOKEN}"))
    for loopback in ("127.0.0.1", "::1"):
        with TestClient(app, client=(loopback, 4000)) as local:
            assert value(scrape(local), "relais_up", component="database") == 1
    # Without a token configured, a stranger's guess of an empty one gets nothing either.
    open_app = create_app(settings, clock=clock, background=False)
    with TestClient(open_app, client=("203.0.113.7", 4000)) as stranger:
        assert stranger.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_an_announcement_moves_every_figure_of_its_path(monitored: TestClient) -> None:
    login(monitored, RECEPTION)
    before = scrape(monitored)
    with board(monitored) as (ws, _seq):
        opened = scrape(monitored)
        assert value(opened, "relais_connected_sockets", kind="board") == (
            value(before, "relais_connected_sockets", kind="board") + 1
        )
        pickup = announce(monitored, mode="gps", latitude=46.8139, longitude=-71.2082)
        assert f"pickup-{pickup['id']}" in receive(ws)["content"]
        ws.send_json({"type": "snapshot"})  # as a board does after a gap in the numbers
        assert receive(ws)["snapshot"] is True
        after = scrape(monitored)
    closed = scrape(monitored)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, None, **labels) - value(before, name, 0, **labels)

    assert grew("relais_events_published_total") >= 1
    assert grew("relais_events_delivered_total") >= 2  # the change, then the snapshot
    assert grew("relais_commit_to_send_seconds_count") >= 1
    assert grew("relais_snapshot_resyncs_total") == 1
    assert grew("relais_request_seconds_count", route="/api/v1/pickups", method="POST") == 1
    assert value(closed, "relais_connected_sockets", kind="board") == value(
        before, "relais_connected_sockets", kind="board"
    )
    # Routes are templates: no id or token becomes a label.
    routes = {dict(labels).get("route", "") for _, labels in after}
    assert "/api/v1/pickups" in routes
    assert not [r for r in routes if re.search(r"/\d+(/|$)", r)], routes


def test_redis_up_follows_the_bus(
    settings: Settings, clock: ManualClock, redis_server: RedisServer
) -> None:
    app = create_app(
        dataclasses.replace(settings, redis_url=redis_server.url), clock=clock, background=False
    )
    with TestClient(app, base_url="http://testserver", client=LOCAL) as client:
        login(client, RECEPTION)
        assert value(scrape(client), "relais_up", component="redis") == 1
        with board(client) as (ws, _seq):
            redis_server.kill()
            assert receive(ws) == {"status": "degraded"}
            assert value(scrape(client), "relais_up", component="redis") == 0


def test_the_tick_lag_is_how_late_the_background_work_started(
    settings: Settings, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = create_app(dataclasses.replace(settings, tick_seconds=0.05), clock=clock).state.services
    lags: list[float] = []
    monkeypatch.setattr(metrics.TICK_LAG, "set", lags.append)

    async def a_blocked_loop() -> None:
        ticked = asyncio.Event()

        async def no_work(_svc: object) -> list[object]:  # the lag is the loop's, not the work's
            ticked.set()
            return []

        monkeypatch.setattr(scheduler, "run_due_work", no_work)
        ticks = asyncio.create_task(scheduler.run_forever(svc))
        for _ in range(2):  # two ticks on time
            await ticked.wait()
            ticked.clear()
        time.sleep(0.3)  # wait-ok: a blocking call holds the event loop  # noqa: ASYNC251
        await ticked.wait()  # the late tick
        ticks.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticks
        await svc.db.dispose()

    run_async(a_blocked_loop)
    assert max(lags[:2]) < 0.1, lags  # on time
    assert lags[-1] >= 0.2, lags  # the tick after the blocking call says how late it was


class StuckConnection:
    """A board's connection that takes no more bytes: every write waits forever. (With real
    sockets, tests/e2e/test_slow_board.py; there the server's ping may close it first.)"""

    application_state = WebSocketState.CONNECTED

    def __init__(self) -> None:
        self.closed_with: int | None = None
        self._never = asyncio.Event()

    async def send_text(self, message: str) -> None:
        await self._never.wait()

    async def close(self, code: int) -> None:
        self.closed_with = code


async def test_a_board_dropped_for_not_reading_is_counted(settings: Settings) -> None:
    db = Database(settings.database_url)
    hub = Hub(db, MemoryBroker(), lambda: T0, queue_size=2)
    channel = _Channel(1, hub)
    stuck = StuckConnection()
    view = ViewKey(installation_id=1, group_id=None, interactive=True, locale="fr")
    board = BoardSocket(stuck, view, None, None, limit=2)  # type: ignore[arg-type]
    channel.views[view] = {board}
    before = REGISTRY.get_sample_value("relais_slow_sockets_dropped_total") or 0.0
    for change in range(3):  # one waits on the connection, two queue behind it
        channel.broadcast(f"change {change}")
    assert REGISTRY.get_sample_value("relais_slow_sockets_dropped_total") == before
    channel.broadcast("one too many")
    assert REGISTRY.get_sample_value("relais_slow_sockets_dropped_total") == before + 1
    assert not channel.views  # let go
    await asyncio.gather(*hub.background)
    assert stuck.closed_with == CLOSE_TOO_SLOW  # it reconnects and resyncs
    await board.stop_writing()
    channel.close()
    await db.dispose()
