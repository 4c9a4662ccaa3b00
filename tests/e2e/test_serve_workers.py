"""The real command: `relais serve --workers 2`, two worker processes sharing Redis and the
database (PostgreSQL in the PostgreSQL run). Boards on real WebSockets see every announcement,
and Redis stopped and restarted under them loses nothing."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from tests.e2e.conftest import relais_serve, staff_cookie
from tests.helpers import API_TOKEN, announce_at_the_door, run_async
from tests.redis_server import RedisServer

pytestmark = pytest.mark.e2e

BOARDS = 6
WAIT = 15.0  # upper bound for any one message (they come in milliseconds)


@pytest.fixture
def served(empty_database_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[str]:
    with relais_serve(empty_database_url, redis_server.url, tmp_path) as process:
        yield process.url


def workers_answering(url: str) -> set[int]:
    """Which worker processes answer, over fresh connections."""
    seen: set[int] = set()
    for _attempt in range(200):
        with httpx.Client() as fresh:  # a new connection each time
            seen.add(fresh.get(f"{url}/healthz").json()["worker"])
        if len(seen) == 2:
            break
    return seen


@contextlib.contextmanager
def open_board(url: str) -> Iterator[ClientConnection]:
    cookie = staff_cookie(url)
    with connect(
        url.replace("http", "ws", 1) + "/board/ws?group=all",
        origin=Origin(url),
        additional_headers={"Cookie": cookie},
    ) as board:
        assert json.loads(board.recv(timeout=WAIT))["snapshot"] is True
        yield board


def receive_until(board: ClientConnection, done: Callable[[dict[str, Any]], bool]) -> None:
    while not done(json.loads(board.recv(timeout=WAIT))):
        pass


def shows(pickup_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda message: f'id="pickup-{pickup_id}"' in message.get("content", "")


def announce(url: str, child: dict[str, Any]) -> int:
    return announce_at_the_door(url, child["id"], child["guardian_ids"][0])


def test_two_worker_processes_fan_out_and_survive_a_redis_restart(
    served: str, redis_server: RedisServer
) -> None:
    assert len(workers_answering(served)) == 2
    children = httpx.get(
        f"{served}/api/v1/children?installation_id=ERA",
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    ).json()
    present = iter(c for c in children if c["present"] and c["guardian_ids"])
    stack = contextlib.ExitStack()
    boards = [stack.enter_context(open_board(served)) for _ in range(BOARDS)]

    # Announcements, each through whichever worker takes the request, reach every board.
    for _ in range(3):
        pickup = announce(served, next(present))
        for board in boards:
            receive_until(board, shows(pickup))

    redis_server.kill()
    for board in boards:
        receive_until(board, lambda message: message.get("status") == "degraded")
    during = announce(served, next(present))  # committed while the bus is down

    run_async(redis_server.start)
    for board in boards:  # each converges through a fresh snapshot that holds it
        receive_until(
            board, lambda message: bool(message.get("snapshot")) and shows(during)(message)
        )
    after = announce(served, next(present))
    for board in boards:
        receive_until(board, shows(after))
    stack.close()
