"""One load-generator process holding many boards (WebSocket clients).

    python -m bench.boards CONFIG.json

CONFIG: {"boards": [[url, installation_key, cookie | null], ...], "origin": str | null,
"expect_snapshot": bool, "concurrency": int, "samples": path}.

Each board records, per live message, the receipt instant minus the message's `at` (the
instant the change committed, stamped by the server: same host, one clock). The process talks
to the runner over stdin/stdout, one JSON line each way:

- once every board is open (and, for Relais, has its snapshot): {"ready": n, "failed": n, ...};
- "count" → {"received": deliveries so far};
- "stop" → closes the boards, writes the samples (pairs of doubles: at, latency in ms) to
  `samples`, and answers {"boards": [[key, opened, unique, duplicates, out_of_order,
  closed_early, bytes], ...]} (`unique`: deliveries counted once per seq).
"""

from __future__ import annotations

import asyncio
import json
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
    seqs: set[int] = field(default_factory=set)
    duplicates: int = 0
    out_of_order: int = 0
    last_seq: int = 0  # the snapshot's, then the highest delivered
    closed_early: bool = False
    bytes: int = 0
    socket: ClientConnection | None = None

    def summary(self) -> list[Any]:
        return [
            self.key,
            self.socket is not None,
            len(self.seqs),
            self.duplicates,
            self.out_of_order,
            self.closed_early,
            self.bytes,
        ]


class Boards:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.boards = [Board(url, key, cookie) for url, key, cookie in config["boards"]]
        # One flat array for the whole process: two doubles per delivery, no object each.
        self.samples = array("d")
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
        samples, clock = self.samples, time.time
        try:
            async for raw in socket:
                now = clock()
                message = json.loads(raw)
                at = message.get("at")
                if at is None:  # a snapshot (resync) or a status message: not a delivery
                    continue
                seq = int(message["seq"])
                # Relais may cover several consecutive changes in one message under load
                # (seq "from" to "seq", "at" the earliest commit): each is a delivery, timed
                # from that earliest commit, so the figure never flatters.
                first = int(message.get("from", seq))
                board.bytes += len(raw) if isinstance(raw, bytes) else len(raw.encode())
                if seq < board.last_seq:
                    board.out_of_order += 1
                board.last_seq = max(board.last_seq, seq)
                latency = (now - at) * 1000.0
                for covered in range(first, seq + 1):
                    if covered in board.seqs:
                        board.duplicates += 1
                        continue
                    board.seqs.add(covered)
                    self.received += 1
                    samples.append(at)
                    samples.append(latency)
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


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def main(config: dict[str, Any]) -> None:
    boards = Boards(config)
    gate = asyncio.Semaphore(int(config["concurrency"]))
    started = time.monotonic()
    opened = await asyncio.gather(*(boards.open(b, gate) for b in boards.boards))
    _say(
        {
            "ready": sum(opened),
            "failed": len(opened) - sum(opened),
            "errors": dict(boards.errors.most_common(5)),
            "connect_s": round(time.monotonic() - started, 2),
        }
    )
    while True:
        command = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if command == "count":
            _say({"received": boards.received})
        elif command in {"stop", ""}:  # "" is EOF: the runner went away
            break
    await boards.close()
    await asyncio.to_thread(Path(config["samples"]).write_bytes, boards.samples.tobytes())
    _say({"boards": [b.summary() for b in boards.boards]})


def run() -> None:
    # Thousands of sockets: lift the soft open-files limit to the hard one (20,000 here).
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with open(sys.argv[1]) as source:
        config = json.load(source)
    loop.run(main(config))


if __name__ == "__main__":
    run()
