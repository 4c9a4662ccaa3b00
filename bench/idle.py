"""Resident memory per idle board: the server's RSS before and after N boards open and sit.

A few boards open first and stay (templates compiled, pools and hub structures made), then
RSS is read; then N more open, the server settles, and RSS is read again:
(after − before) / N. Relais's boards are in the fan-out's mix of views (scenarios.VIEWS).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from . import procs
from .fleet import BoardSet, Fleet
from .servers import Server

SETTLE_S = 3.0
# Boards open a few at a time, as screens come on through a morning: a burst of concurrent
# snapshots would leave its transient peak in the RSS (freed memory the allocator keeps).
CONCURRENCY = 8


def _rss_settled(server: Server) -> int:
    """The server finishes the snapshots and frees their buffers: wait for RSS to stop moving."""
    previous = procs.rss_bytes(server.pid)
    for _ in range(10):
        time.sleep(SETTLE_S / 3)
        current = procs.rss_bytes(server.pid)
        if abs(current - previous) < 256 * 1024:
            return current
        previous = current
    return previous


def measure(server: Server, warm: BoardSet, boards: BoardSet, workdir: Path) -> dict[str, Any]:
    warm_fleet = Fleet(warm, workdir, name=f"{server.name}-warm", processes=1)
    fleet: Fleet | None = None
    try:
        warm_fleet.wait_ready()
        before = _rss_settled(server)
        fleet = Fleet(boards, workdir, name=f"{server.name}-idle", concurrency=CONCURRENCY)
        ready = fleet.wait_ready()
        after = _rss_settled(server)
        fleet.stop()
        warm_fleet.stop()
    finally:
        warm_fleet.kill()
        if fleet is not None:
            fleet.kill()
    opened = ready["ready"]
    return {
        "boards": opened,
        "boards_failed": ready["failed"],
        "connect": ready,
        "rss_before_mb": round(before / 2**20, 1),
        "rss_after_mb": round(after / 2**20, 1),
        "rss_per_board_kb": round((after - before) / max(1, opened) / 1024, 1),
    }
