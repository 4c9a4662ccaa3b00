"""A tablet that stops reading (asleep on a bad Wi-Fi) must not slow the others: its queue
is bounded, it is dropped when the queue is full, and it resyncs when it comes back. Real
sockets: the slow one really stops reading, so TCP's buffers fill up."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from server.core.clock import ManualClock
from server.core.settings import Settings
from tests.e2e.conftest import LiveServer, serving, staff_cookie
from tests.helpers import api_headers

pytestmark = pytest.mark.e2e

QUEUE = 8  # messages a board may have waiting (256 in production; small to fill fast)
WAIT = 10.0
ROUNDS = 10  # at most: the slow board is let go long before


@pytest.fixture
def small_queues(settings: Settings, clock: ManualClock) -> Iterator[LiveServer]:
    with serving(dataclasses.replace(settings, socket_queue_size=QUEUE), clock) as server:
        yield server


def board(url: str, cookie: str) -> ClientConnection:
    return connect(
        url.replace("http", "ws", 1) + "/board/ws?group=all",
        origin=Origin(url),
        additional_headers={"Cookie": cookie},
    )


@contextmanager
def board_that_stops_reading(url: str, cookie: str) -> Iterator[socket.socket]:
    """A WebSocket opened by hand, with a tiny receive buffer, then never read again."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    raw.sendall(
        (
            "GET /board/ws?group=all HTTP/1.1\r\n"
            f"Host: {url.removeprefix('http://')}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"Origin: {url}\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += raw.recv(1)  # one byte at a time: leave every frame unread
    assert answer.startswith(b"HTTP/1.1 101"), answer
    try:
        yield raw
    finally:
        raw.close()


def boards_connected(server: LiveServer) -> int:
    count: int = httpx.get(f"{server.url}/healthz").json()["boards"]
    return count


def test_a_board_that_stops_reading_is_dropped_and_the_others_see_everything(
    small_queues: LiveServer,
) -> None:
    server = small_queues
    cookie = staff_cookie(server.url)
    with board(server.url, cookie) as fast, board_that_stops_reading(server.url, cookie):
        first = json.loads(fast.recv(timeout=WAIT))
        assert first["snapshot"] is True
        seq = first["seq"]
        assert boards_connected(server) == 2

        children = server.api("GET", "/children?installation_id=ERA").json()
        present = [c for c in children if c["present"] and c["guardian_ids"]]
        api = httpx.Client(base_url=f"{server.url}/api/v1", headers=api_headers(), timeout=WAIT)

        def flood(calls: list[tuple[str, dict[str, object]]]) -> list[dict[str, object]]:
            """Make the changes, then read the reading board: it gets every one of them, in
            order, while the other lags behind."""
            nonlocal seq
            answers = [api.post(path, json=body) for path, body in calls]
            assert all(a.status_code in (200, 201) for a in answers), answers
            expected = seq + len(calls)  # one event each
            while seq < expected:
                message = json.loads(fast.recv(timeout=WAIT))
                assert message["from"] == seq + 1  # under load, several in one message
                seq = message["seq"]
            assert seq == expected
            return [a.json() for a in answers]

        # A flood: every child announced, called, ready, gone, and back, round after round.
        # A change sends only the rows it changed (about a kilobyte), so it takes a few
        # rounds (some 2 MB) to fill the slow board's queue and the kernel buffers behind it.
        at_the_door = {"mode": "gps", "latitude": 46.8139, "longitude": -71.2082}
        pickups: list[object] = []
        for round_ in range(ROUNDS):
            if boards_connected(server) == 1:
                break
            if round_:  # gone home last round: back
                flood([("/attendance", {"child_id": c["id"], "present": True}) for c in present])
            announced = flood(
                [
                    (
                        "/pickups",
                        at_the_door | {"child_id": c["id"], "guardian_id": c["guardian_ids"][0]},
                    )
                    for c in present
                ]
            )
            pickups = [p["id"] for p in announced]
            for status in ("called", "ready", "departed"):
                flood([(f"/pickups/{p}/status", {"status": status}) for p in pickups])
        api.close()

        assert boards_connected(server) == 1  # the slow one was let go

    # Back from its nap, the tablet reconnects and gets the whole board as it is now: every
    # child gone home, no alert left.
    with board(server.url, cookie) as back:
        snapshot = json.loads(back.recv(timeout=WAIT))
        assert snapshot["snapshot"] is True and snapshot["seq"] == seq
        assert not any(f'id="pickup-{p}"' in snapshot["content"] for p in pickups)
