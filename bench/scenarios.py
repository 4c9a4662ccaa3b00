"""The four servers side by side, each set up fresh for one measurement and torn down after:

- (a) Relais, one worker, in-process broker, on SQLite (the embedded default);
- (b) Relais, two workers, Redis pub/sub, on PostgreSQL (the scale-out shape);
- (c) the floor: bench/floor_server.py, raw `websockets`;
- (d) the peer: bench/peer_channels, Django Channels + channels_redis, one worker.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from . import databases, procs, servers
from .announcer import AnnounceTarget, RelaisTarget, filler
from .fanout import BoardSet, Load
from .seed import Seeded, seed
from .servers import Redis, Server

LABELS = {
    "a": "Relais, 1 worker, in-process broker (SQLite)",
    "b": "Relais, 2 workers, Redis (PostgreSQL)",
    "c": "Floor: raw websockets",
    "d": "Peer: Django Channels + channels_redis",
}
# A daycare of a school: three groups of fourteen, as in the demo.
MIN_CHILDREN = 42
_databases = count(1)


@dataclass
class Relais:
    server: Server
    seeded: Seeded
    services: Callable[[], list[int]]  # (b): its PostgreSQL backends and Redis

    def boards(self, per_installation: int) -> BoardSet:
        """The front desk's screens: each installation's boards signed in as its reception."""
        installations = self.seeded.installations
        urls = [
            (f"{self.server.ws_base}/board/ws?installation={i.id}&group=all", i.external_id)
            for i in installations
            for _ in range(per_installation)
        ]
        cookies = {i.external_id: f"relais_session={i.reception_session}" for i in installations}
        # The server checks Origin against its own address, as a browser would send it.
        return BoardSet(urls, self.server.http_base, cookies, expect_snapshot=True)

    def target(self) -> RelaisTarget:
        return RelaisTarget(self.seeded)


@contextlib.contextmanager
def relais(
    key: str,
    installations: int,
    children: int,
    workdir: Path,
    redis: Redis | None,
    per_group: int = 14,
) -> Iterator[Relais]:
    """(a) or (b) on a freshly seeded database."""
    name = f"relais-{key}-{next(_databases)}"
    pg_name = f"relais_bench_{os.getpid()}_{name.replace('-', '_')}"
    sqlite_file = workdir / f"{name}-{os.getpid()}.db"
    url = databases.sqlite_url(sqlite_file) if key == "a" else databases.create_postgres(pg_name)
    server = None
    try:
        seeded = seed(url, installations, children, per_group)
        if key == "a":
            server = servers.start_relais(name, url, workdir)
        else:
            assert redis is not None, "(b) needs Redis"
            server = servers.start_relais(name, url, workdir, workers=2, redis_url=redis.url)

        def services() -> list[int]:
            # PostgreSQL's backends name their database in their process title.
            return [*procs.matching(pg_name), redis.pid] if key == "b" and redis else []

        yield Relais(server, seeded, services)
    finally:
        if server is not None:
            server.stop()
        if key == "a":
            for leftover in workdir.glob(f"{sqlite_file.name}*"):  # with -wal and -shm
                leftover.unlink()
        else:
            databases.drop_postgres(pg_name)


def relais_children(load: Load) -> int:
    return max(MIN_CHILDREN, load.children_needed())


@contextlib.contextmanager
def announce_server(key: str, workdir: Path, redis: Redis | None) -> Iterator[Server]:
    """(c) or (d); (d) needs `redis`."""
    if key == "c":
        server = servers.start_floor(workdir)
    else:
        assert redis is not None, "the peer needs Redis"
        server = servers.start_peer(workdir, redis.url)
    try:
        yield server
    finally:
        server.stop()


def announce_boards(server: Server, installations: int, per_installation: int) -> BoardSet:
    # Installation keys are numbers: the peer's route takes an int.
    urls = [
        (f"{server.ws_base}/ws/{i}/", str(i))
        for i in range(1, installations + 1)
        for _ in range(per_installation)
    ]
    return BoardSet(urls)


def announce_target(installations: int, message_bytes: int) -> AnnounceTarget:
    """Messages as large as Relais's (measured in the same run)."""
    content = filler(message_bytes)
    return AnnounceTarget([str(i) for i in range(1, installations + 1)], content)
