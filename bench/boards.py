"""One load-generator process holding many sockets: boards, and for Relais the family pages.

    python -m bench.boards CONFIG.json

CONFIG: {"sockets": [[url, installation_key, cookie | null, view, family], ...],
"views": [view, ...], "origin": str | null, "expect_snapshot": bool, "concurrency": int,
"samples": path}. `view` names what the socket shows ("reception all fr", "wall fr", …), one
of "views"; `family` marks a parent's page (/parent/ws).

A board keeps, for every change it receives (each seq once), the seq, the receipt instant and
the message's `at` (the instant the change committed): time.time(), the clock the announcer
reads too (same host). A message may cover several consecutive changes under load (`from` to
`seq`): each is a delivery, received when the message came. A family page's messages carry no
seq: they are counted, not timed. The process talks to the runner over stdin/stdout, one JSON
line each way:

- once every socket is open (and, for Relais, has its snapshot): {"ready": n, "failed": n,
  "families": n, "families_failed": n, ...};
- "count" → {"received": deliveries to boards so far};
- "stop SENDS.json" (a plain "stop" times nothing) → closes the sockets; SENDS.json is
  {"window": [start, end], "sends": {installation_key: [[seq, send instant], ...]}}: each
  delivery of a seq found there is timed from its request's send, each delivery whose change
  committed inside the window from its `at`. Writes the samples, pairs of doubles (view
  index, ms) of deliveries whose request left (resp. whose change committed) inside the
  window, to `samples`.request and `samples`.commit, and answers {"sockets": [summary,
  ...], "unmatched": n} (`unmatched`: deliveries with no send instant to time them from).
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import sys
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from . import loop


@dataclass(eq=False)
class Board:
    url: str
    key: str
    cookie: str | None
    view: int  # index into the config's "views"
    family: bool  # a parent's page: messages counted, not timed
    seen: set[int] = field(default_factory=set)
    # Per delivery (each seq once): the seq, the receipt instant, the commit instant `at`.
    seqs: array[int] = field(default_factory=lambda: array("q"))
    received_at: array[float] = field(default_factory=lambda: array("d"))
    committed_at: array[float] = field(default_factory=lambda: array("d"))
    duplicates: int = 0
    out_of_order: int = 0
    late: int = 0  # messages marked late (a change behind a number already sent)
    resyncs: int = 0  # snapshots after the first one
    messages: int = 0
    last_seq: int = 0  # the snapshot's, then the highest delivered
    closed_early: bool = False
    bytes: int = 0
    socket: ClientConnection | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "view": self.view,
            "family": self.family,
            "opened": self.socket is not None,
            "unique": len(self.seen),
            "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "late": self.late,
            "resyncs": self.resyncs,
            "messages": self.messages,
            "closed_early": self.closed_early,
            "bytes": self.bytes,
        }


class Boards:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        views = {name: i for i, name in enumerate(config["views"])}
        self.boards = [
            Board(url, key, cookie, views[view], bool(family))
            for url, key, cookie, view, family in config["sockets"]
        ]
        self.received = 0
        self.stopping = False
        self.errors: Counter[str] = Counter()
        self.readers: list[asyncio.Task[None]] = []

    async def open(self, board: Board, gate: asyncio.Semaphore) -> bool:
        async with gate:
            try:
                board.socket = await connect(
                    board.url,
                    origin=Origin(self.config["origin"]) if self.config["origin"] else None,
                    additional_headers={"Cookie": board.cookie} if board.cookie else None,
                    compression=None,  # Relais serves without per-message deflate
                    proxy=None,
                    open_timeout=60,
                    ping_interval=None,  # the servers ping; the boards only answer
                    max_size=None,
                )
                if self.config["expect_snapshot"]:
                    # Ready only with the snapshot in hand: every later event then reaches it.
                    first = json.loads(await asyncio.wait_for(board.socket.recv(), 60))
                    if not board.family:
                        board.last_seq = int(first["seq"])
            except Exception as error:
                self.errors[f"{type(error).__name__}: {error}"[:200]] += 1
                if board.socket is not None:  # open but no snapshot: not a board that counts
                    board.socket.transport.abort()
                    board.socket = None
                return False
        self.readers.append(asyncio.create_task(self.read(board, board.socket)))
        return True

    async def read(self, board: Board, socket: ClientConnection) -> None:
        clock = time.time
        seen, seqs = board.seen, board.seqs
        received_at, committed_at = board.received_at, board.committed_at
        try:
            async for raw in socket:
                now = clock()
                board.messages += 1
                board.bytes += len(raw) if isinstance(raw, bytes) else len(raw.encode())
                if board.family:
                    continue  # {"family": true, "ready": [...], "content": ...}: no seq
                message = json.loads(raw)
                if "seq" not in message:  # a status message ("degraded")
                    continue
                seq = int(message["seq"])
                if message.get("snapshot"):
                    # The server resent the whole board: not a delivery of any change.
                    board.resyncs += 1
                    continue
                # Several consecutive changes in one message under load: `from` to `seq`,
                # `at` the earliest commit among them.
                first = int(message.get("from", seq))
                at = message.get("at")
                at = float(at) if isinstance(at, int | float) else math.nan
                if message.get("late"):
                    board.late += 1
                if seq < board.last_seq:
                    board.out_of_order += 1
                board.last_seq = max(board.last_seq, seq)
                for covered in range(first, seq + 1):
                    if covered in seen:
                        board.duplicates += 1
                        continue
                    seen.add(covered)
                    self.received += 1
                    seqs.append(covered)
                    received_at.append(now)
                    committed_at.append(at)
        except ConnectionClosed:
            pass
        board.closed_early = not self.stopping

    async def close(self) -> None:
        self.stopping = True
        sockets = [b.socket for b in self.boards if b.socket is not None]

        async def close_one(socket: ClientConnection) -> None:
            try:
                await asyncio.wait_for(socket.close(), 5)
            except Exception:  # a board that will not close cleanly is cut: it still stops
                socket.transport.abort()

        await asyncio.gather(*(close_one(s) for s in sockets))
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)

    def samples(self, sends_path: str) -> tuple[array[float], array[float], int]:
        """(view, request → board ms) and (view, commit → board ms) of the steady window's
        deliveries, and how many deliveries had no send instant."""
        given = json.loads(Path(sends_path).read_text())
        start, end = given["window"]
        sends = {key: dict(map(tuple, pairs)) for key, pairs in given["sends"].items()}
        request, commit = array("d"), array("d")
        unmatched = 0
        for board in self.boards:
            if board.family:
                continue
            mine: dict[int, float] = sends.get(board.key, {})
            view = float(board.view)
            for seq, now, at in zip(board.seqs, board.received_at, board.committed_at, strict=True):
                sent = mine.get(seq)
                if sent is None:
                    unmatched += 1
                elif start <= sent < end:
                    request.append(view)
                    request.append((now - sent) * 1000.0)
                if start <= at < end:  # False for NaN: a message without `at`
                    commit.append(view)
                    commit.append((now - at) * 1000.0)
        return request, commit, unmatched


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main(config: dict[str, Any]) -> None:
    boards = Boards(config)
    gate = asyncio.Semaphore(int(config["concurrency"]))
    started = time.monotonic()
    opened = await asyncio.gather(*(boards.open(b, gate) for b in boards.boards))
    families = [ok for ok, b in zip(opened, boards.boards, strict=True) if b.family]
    _say(
        {
            "ready": sum(opened) - sum(families),
            "failed": len(opened) - sum(opened) - (len(families) - sum(families)),
            "families": sum(families),
            "families_failed": len(families) - sum(families),
            "errors": dict(boards.errors.most_common(5)),
            "connect_s": round(time.monotonic() - started, 2),
        }
    )
    sends_path = ""
    while True:
        command = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if command == "count":
            _say({"received": boards.received})
        elif command.startswith("stop") or command == "":  # "" is EOF: the runner went away
            sends_path = command[len("stop") :].strip()
            break
    await boards.close()
    unmatched = 0
    if sends_path:  # a plain "stop" (the idle measurement) times nothing
        unmatched = await asyncio.to_thread(_write_samples, boards, sends_path, config["samples"])
    _say({"sockets": [b.summary() for b in boards.boards], "unmatched": unmatched})


def _write_samples(boards: Boards, sends_path: str, samples: str) -> int:
    request, commit, unmatched = boards.samples(sends_path)
    Path(f"{samples}.request").write_bytes(request.tobytes())
    Path(f"{samples}.commit").write_bytes(commit.tobytes())
    return unmatched


def run() -> None:
    # Thousands of sockets: lift the soft open-files limit to the hard one (20,000 here).
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with open(sys.argv[1]) as source:
        config = json.load(source)
    loop.run(main(config))


if __name__ == "__main__":
    run()
