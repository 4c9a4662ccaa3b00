"""One fan-out measurement: boards open on a server, the announcer runs its schedule, the
boards drain, and the numbers are put together."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import announcer, loop, procs
from .announcer import STEPS, Announcer, Plan, Target
from .fleet import Fleet
from .servers import Server
from .stats import latency_summary

EVENTS_PER_PICKUP = 1 + len(STEPS)


@dataclass(frozen=True)
class Load:
    name: str
    installations: int
    boards_per_installation: int
    events_per_s: float
    duration_s: float  # the steady window the percentiles and CPU figures cover
    gap_s: float = 1.0  # between the four events of one pickup

    @property
    def boards(self) -> int:
        return self.installations * self.boards_per_installation

    @property
    def ramp_s(self) -> float:
        """Until the first pickups reach Départ the four kinds of event do not all flow yet."""
        return len(STEPS) * self.gap_s

    @property
    def pickups_per_s(self) -> float:
        return self.events_per_s / EVENTS_PER_PICKUP

    def children_needed(self) -> int:
        """Announcements per installation over the run (each child goes home once), with room."""
        pickups = self.pickups_per_s * (self.ramp_s + self.duration_s)
        return math.ceil(pickups / self.installations * 1.1) + 2


@dataclass(frozen=True)
class BoardSet:
    """Where and how the boards connect."""

    urls: list[tuple[str, str]]  # (url, installation key as the announcer names it)
    origin: str | None = None
    cookies: dict[str, str] | None = None  # the Cookie header, per installation key
    expect_snapshot: bool = False


def _account(summaries: list[list[Any]], events_ok: Counter[str]) -> dict[str, int]:
    """Lost = deliveries a board should have had (every event committed for its installation)
    and never got, whatever the order; seq gaps and repeats are counted apart."""
    totals = Counter[str]()
    for key, opened, unique, duplicates, out_of_order, closed, size in summaries:
        if not opened:
            totals["boards_failed"] += 1
            continue
        expected = events_ok[key]
        totals["boards"] += 1
        totals["expected"] += expected
        totals["deliveries"] += unique
        totals["lost"] += max(0, expected - unique)
        totals["unexpected"] += max(0, unique - expected)
        totals["duplicates"] += duplicates
        totals["out_of_order"] += out_of_order
        totals["closed_early"] += int(closed)
        totals["bytes"] += size
    return dict(totals)


def run(
    server: Server,
    target: Target,
    boards: BoardSet,
    load: Load,
    workdir: Path,
    *,
    board_processes: int = 2,
    drain_s: float = 10.0,
    services: Callable[[], list[int]] | None = None,
) -> dict[str, Any]:
    """`drain_s`: how long after the last call the boards may still be receiving; a delivery
    later than that counts as lost. `services`: the processes of the Redis and PostgreSQL the
    server uses, read once the boards are open (their CPU is reported apart)."""
    fleet = Fleet(
        boards.urls,
        workdir,
        name=server.name,
        origin=boards.origin,
        cookies=boards.cookies,
        expect_snapshot=boards.expect_snapshot,
        processes=board_processes,
    )
    try:
        ready = fleet.wait_ready()
        plan = Plan(
            t0=time.time() + 1.0,
            pickups_per_s=load.pickups_per_s,
            duration_s=load.ramp_s + load.duration_s,
            gap_s=load.gap_s,
        )
        window = (plan.t0 + load.ramp_s, plan.t0 + load.ramp_s + load.duration_s)
        groups = {
            "server": procs.tree(server.pid),
            "loadgen": [*fleet.pids, os.getpid()],
            "services": services() if services else [],
        }
        outcome, marks = loop.run(_drive(server, target, plan, window, groups))
        expected = sum(outcome.events_ok[key] for _url, key in boards.urls)
        deadline = time.monotonic() + drain_s
        while fleet.received() < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        rss = procs.rss_bytes(server.pid)
        summaries, samples = fleet.stop()
    finally:
        fleet.kill()
    totals = _account(summaries, outcome.events_ok)
    latency = latency_summary(samples, window)
    start, end = marks
    deliveries = totals.get("deliveries", 0)
    return {
        "boards": totals.get("boards", 0),
        "boards_failed": totals.get("boards_failed", 0),
        "installations": load.installations,
        "events_per_s": load.events_per_s,
        "duration_s": load.duration_s,
        "events": sum(outcome.events_ok.values()),
        "deliveries": deliveries,
        "expected_deliveries": totals.get("expected", 0),
        "lost": totals.get("lost", 0),
        "unexpected": totals.get("unexpected", 0),
        "duplicates": totals.get("duplicates", 0),
        "out_of_order": totals.get("out_of_order", 0),
        "closed_early": totals.get("closed_early", 0),
        "deliveries_per_s": round(latency["measured_deliveries"] / load.duration_s, 1),
        **latency,
        "message_bytes_mean": round(totals.get("bytes", 0) / deliveries) if deliveries else 0,
        "server_cpu_pct": round(procs.cpu_percent(start["server"], end["server"]), 1),
        "services_cpu_pct": round(procs.cpu_percent(start["services"], end["services"]), 1),
        "loadgen_cpu_pct": round(procs.cpu_percent(start["loadgen"], end["loadgen"]), 1),
        "machine_cpu_pct": round(procs.machine_percent(start["server"], end["server"]), 1),
        "server_rss_mb": round(rss / 2**20, 1),
        "connect": ready,
        "announcer": outcome.summary(),
    }


Marks = dict[str, procs.CpuMark]


async def _drive(
    server: Server,
    target: Target,
    plan: Plan,
    window: tuple[float, float],
    groups: dict[str, list[int]],
) -> tuple[announcer.Outcome, tuple[Marks, Marks]]:
    """The announcer, and CPU readings of each group of processes at both ends of the
    steady window."""

    async def mark_at(moment: float) -> Marks:
        await asyncio.sleep(max(0.0, moment - time.time()))
        now = time.time()
        return {name: procs.mark(pids, now) for name, pids in groups.items()}

    async with announcer.client(server.http_base, target.headers) as client:
        start = asyncio.create_task(mark_at(window[0]))
        end = asyncio.create_task(mark_at(window[1]))
        outcome = await Announcer(target, plan, client).run()
        return outcome, (await start, await end)
