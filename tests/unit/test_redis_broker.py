"""The Redis broker against a real redis-server started by these tests (no mocks of Redis):
two brokers on one server stand for two workers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from server.pickups.events import BoardEvent
from server.realtime.redis_broker import RedisBroker
from tests.helpers import free_port
from tests.redis_server import STEP, TIMEOUT, RedisServer


class RecordingListener:
    """Records what the broker calls back (stands for a worker's hub)."""

    def __init__(self) -> None:
        self.events: list[BoardEvent] = []
        self.controls: list[dict[str, Any]] = []
        self.states: list[bool] = []

    async def on_event(self, event: BoardEvent) -> None:
        self.events.append(event)

    async def on_control(self, message: dict[str, Any]) -> None:
        self.controls.append(message)

    async def on_broker_state(self, connected: bool) -> None:
        self.states.append(connected)

    def seqs(self, installation_id: int) -> list[int]:
        return [e.seq for e in self.events if e.installation_id == installation_id]


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT
    while not predicate():
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for: {what}")
        await asyncio.sleep(STEP)  # wait-ok


def event(installation_id: int, seq: int) -> BoardEvent:
    return BoardEvent(installation_id, seq, "pickup", groups=(3,), chime=True, pickup_id=seq)


@pytest.fixture
async def server() -> AsyncIterator[RedisServer]:
    redis_server = RedisServer(free_port())
    await redis_server.start()
    try:
        yield redis_server
    finally:
        redis_server.kill()


def make_broker(url: str) -> tuple[RedisBroker, RecordingListener]:
    broker = RedisBroker(url, backoff_initial=0.05, backoff_max=0.3)
    listener = RecordingListener()
    broker.attach(listener)
    return broker, listener


@pytest.fixture
async def workers(
    server: RedisServer,
) -> AsyncIterator[tuple[RedisBroker, RecordingListener, RedisBroker, RecordingListener]]:
    a, a_listener = make_broker(server.url)
    b, b_listener = make_broker(server.url)
    await a.start()
    await b.start()
    try:
        yield a, a_listener, b, b_listener
    finally:
        await a.stop()
        await b.stop()


async def test_events_reach_only_workers_subscribed_to_the_installation(workers: Any) -> None:
    a, a_listener, b, b_listener = workers
    assert a_listener.states == [True] and b_listener.states == [True]
    await b.subscribe(1)

    await a.publish(event(2, 1))  # nobody watches installation 2
    await a.publish(event(1, 1))
    await eventually(lambda: b_listener.seqs(1) == [1], "worker B receives installation 1")
    # Same publisher, same subscription: had installation 2 been delivered, it came first.
    assert b_listener.seqs(2) == []
    assert b_listener.events[0] == event(1, 1)  # the JSON round trip keeps every field
    assert a_listener.events == []  # A's boards do not watch installation 1


async def test_unsubscribe_stops_delivery(workers: Any) -> None:
    a, _, b, b_listener = workers
    await b.subscribe(1)
    await b.subscribe(2)
    await a.publish(event(1, 1))
    await eventually(lambda: b_listener.seqs(1) == [1], "first event")

    await b.unsubscribe(1)
    await a.publish(event(1, 2))
    await a.publish(event(2, 1))  # a marker on a channel still subscribed, published after
    await eventually(lambda: b_listener.seqs(2) == [1], "marker event")
    assert b_listener.seqs(1) == [1]


async def test_control_messages_reach_every_worker(workers: Any) -> None:
    a, a_listener, _, b_listener = workers
    message = {"type": "sessions_ended", "sessions": ["abc"]}
    await a.publish_control(message)
    await eventually(
        lambda: a_listener.controls == [message] and b_listener.controls == [message],
        "control message on both workers",
    )


async def test_redis_outage_is_reported_and_delivery_resumes(
    server: RedisServer, workers: Any
) -> None:
    a, a_listener, b, b_listener = workers
    await b.subscribe(1)
    await a.publish(event(1, 1))
    await eventually(lambda: b_listener.seqs(1) == [1], "delivery before the outage")

    server.kill()
    await eventually(
        lambda: a_listener.states == [True, False] and b_listener.states == [True, False],
        "both workers told the bus is down",
    )
    # Committed changes are still announced: publishing while down must not raise.
    await a.publish(event(1, 2))
    await a.publish_control({"type": "display_revoked", "display_id": 7})
    await b.subscribe(3)  # a board joins during the outage

    await server.start()
    await eventually(
        lambda: (
            a_listener.states == [True, False, True] and b_listener.states == [True, False, True]
        ),
        "both workers told the bus is back",
    )
    await a.publish(event(1, 3))
    await a.publish(event(3, 1))
    await eventually(
        lambda: b_listener.seqs(1) == [1, 3] and b_listener.seqs(3) == [1],
        "delivery resumes on the old and the new subscription",
    )


async def test_publish_while_down_reports_the_bus_down(server: RedisServer) -> None:
    broker, listener = make_broker(server.url)
    await broker.start()
    try:
        server.kill()
        # Whether the reader or the failed publish notices first, the hub hears it once.
        await broker.publish(event(1, 1))
        await eventually(lambda: listener.states == [True, False], "bus reported down")
    finally:
        await broker.stop()


async def test_an_idle_subscription_stays_up_through_its_pings(server: RedisServer) -> None:
    broker = RedisBroker(server.url, idle_ping=0.1)
    listener = RecordingListener()
    broker.attach(listener)
    await broker.start()
    try:
        await broker.subscribe(1)
        # Several ping rounds (after 0.1 s of silence; no answer by 0.2 s would reconnect).
        await eventually(lambda: broker.pongs >= 4, "idle pings answered")
        assert listener.states == [True]
        await broker.publish(event(1, 1))
        await eventually(lambda: listener.seqs(1) == [1], "delivery after idle pings")
    finally:
        await broker.stop()


async def test_start_without_redis_reports_down_then_connects() -> None:
    redis_server = RedisServer(free_port())
    broker, listener = make_broker(redis_server.url)
    await broker.start()  # nothing listens: no exception
    try:
        assert listener.states == [False]
        assert not broker.connected
        await broker.subscribe(5)
        await broker.publish(event(5, 1))  # does not raise either

        await redis_server.start()
        await eventually(lambda: listener.states == [False, True], "connected once Redis is up")
        assert broker.connected
        await broker.publish(event(5, 2))
        await eventually(lambda: listener.seqs(5) == [2], "delivery on the early subscription")
    finally:
        await broker.stop()
        redis_server.kill()
