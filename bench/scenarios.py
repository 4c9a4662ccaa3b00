"""The four servers side by side, each set up fresh for one measurement and torn down after:

- (a) Relais, one worker, in-process broker, on SQLite (the embedded default);
- (b) Relais, two workers, Redis pub/sub, on PostgreSQL (the scale-out shape);
- (c) the floor: bench/floor_server.py, raw `websockets`;
- (d) the peer: bench/peer_channels, Django Channels + channels_redis, one worker.

Relais's boards are spread as in a real daycare (VIEWS below): the reception's board of all
groups, a tablet per group on "my group", a wall display, about one in five in English; and
each child the run announces has a parent's family page open. The floor and the peer have no
views: every board of an installation gets the same broadcast.
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
from .fanout import Load
from .fleet import BoardSet, Socket
from .seed import Seeded, SeededInstallation, seed
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

# The screens of one installation, in the order they are opened; an installation with N boards
# takes the first N, cycling (10 at the peak, 100 in the stress: every installation the same
# mix). (who, group, language): "reception" is the front desk's board of all groups, signed in
# as the reception account (group=all); "group" is that group's tablet on "my group", signed
# in as an educator whose home group it is (group=mine); "wall" is the wall display of all
# groups (/board/ws?display=<token>, read-only). English boards carry the relais_lang cookie
# the language switch sets. Of ten: 3 reception (1 English), 6 group tablets (1 English), 1
# wall; 2 in English. Seven distinct views per installation, so seven renders per change.
VIEWS: list[tuple[str, int, str]] = [
    ("reception", 0, "fr"),
    ("group", 1, "fr"),
    ("group", 2, "fr"),
    ("group", 3, "fr"),
    ("wall", 0, "fr"),
    ("reception", 0, "en"),
    ("group", 1, "en"),
    ("group", 2, "fr"),
    ("group", 3, "fr"),
    ("reception", 0, "fr"),
]
# Every fifth family page in English too.
FAMILY_ENGLISH_EVERY = 5


def view_name(who: str, group: int, lang: str) -> str:
    """E.g. "reception all fr", "group 2 fr", "wall fr"."""
    screen = {"reception": "reception all", "group": f"group {group}", "wall": "wall"}[who]
    return f"{screen} {lang}"


def describe_views() -> str:
    """The mix, in words, for the report."""
    return ", ".join(view_name(*v) for v in VIEWS)


@dataclass
class Relais:
    server: Server
    seeded: Seeded
    services: Callable[[], list[int]]  # (b): its PostgreSQL backends and Redis

    def _board(self, installation: SeededInstallation, n: int) -> Socket:
        who, group, lang = VIEWS[n % len(VIEWS)]
        base = f"{self.server.ws_base}/board/ws"
        if who == "group" and group > len(installation.educator_sessions):
            who, group = "reception", 0  # fewer groups than the pattern names
        cookies = []
        if who == "reception":
            url = f"{base}?installation={installation.id}&group=all"
            cookies.append(f"relais_session={installation.reception_session}")
        elif who == "group":
            url = f"{base}?installation={installation.id}&group=mine"
            cookies.append(f"relais_session={installation.educator_sessions[group - 1]}")
        else:
            url = f"{base}?display={installation.display_token}"
        if lang == "en":
            cookies.append("relais_lang=en")
        return Socket(
            url,
            installation.external_id,
            "; ".join(cookies) or None,
            view_name(who, group, lang),
        )

    def boards(self, per_installation: int, *, families: bool = False) -> BoardSet:
        """Each installation's `per_installation` boards in the VIEWS mix; with `families`, the
        family page (/parent/ws) of every child whose guardian the seed signed in."""
        sockets = [
            self._board(i, n) for i in self.seeded.installations for n in range(per_installation)
        ]
        if families:
            number = 0
            for i in self.seeded.installations:
                for token in i.family_sessions:
                    number += 1
                    english = number % FAMILY_ENGLISH_EVERY == 0
                    cookie = f"relais_parent={token}" + ("; relais_lang=en" if english else "")
                    view = f"family {'en' if english else 'fr'}"
                    sockets.append(
                        Socket(
                            f"{self.server.ws_base}/parent/ws",
                            i.external_id,
                            cookie,
                            view,
                            family=True,
                        )
                    )
        # The server checks Origin against its own address, as a browser would send it.
        return BoardSet(sockets, self.server.http_base, expect_snapshot=True)

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
    families: list[int] | None = None,
) -> Iterator[Relais]:
    """(a) or (b) on a freshly seeded database; `families[i]`: how many of installation i's
    first children to announce have their guardian signed in."""
    name = f"relais-{key}-{next(_databases)}"
    pg_name = f"relais_bench_{os.getpid()}_{name.replace('-', '_')}"
    sqlite_file = workdir / f"{name}-{os.getpid()}.db"
    url = databases.sqlite_url(sqlite_file) if key == "a" else databases.create_postgres(pg_name)
    server = None
    try:
        seeded = seed(url, installations, children, per_group, families or [])
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


def relais_families(load: Load) -> list[int]:
    """Per installation, how many children the run announces: their families watch."""
    return [load.announced(i) for i in range(load.installations)]


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
    """One broadcast per installation: no views, no family pages."""
    # Installation keys are numbers: the peer's route takes an int.
    sockets = [
        Socket(f"{server.ws_base}/ws/{i}/", str(i))
        for i in range(1, installations + 1)
        for _ in range(per_installation)
    ]
    return BoardSet(sockets)


def announce_target(installations: int, message_bytes: int) -> AnnounceTarget:
    """Messages as large as Relais's (measured in the same run)."""
    content = filler(message_bytes)
    return AnnounceTarget([str(i) for i in range(1, installations + 1)], content)
