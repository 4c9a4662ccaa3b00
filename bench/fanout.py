"""One fan-out measurement: boards (and family pages) open on a server, the announcer runs its
schedule, the boards drain, and the numbers are put together.

Latency is timed two ways per delivery, both on time.time() of this one host:

- request → board (the headline): the board's receipt instant − the instant the announcer sent
  the HTTP request that made the change. Deliveries and calls are matched on (installation,
  seq): Relais's API answers the seq its change got; the floor and the peer are told it.
- commit → board: the receipt instant − the message's `at` (the server's commit instant).
"""

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
from .fleet import BoardSet, Fleet, Stopped
from .servers import Server
from .stats import by_view, latency_summary

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

    def plan(self, t0: float) -> Plan:
        return Plan(
            t0=t0,
            pickups_per_s=self.pickups_per_s,
            duration_s=self.ramp_s + self.duration_s,
            gap_s=self.gap_s,
        )

    @property
    def pickups(self) -> int:
        return self.plan(0.0).pickups

    def announced(self, installation: int) -> int:
        """How many children installation number `installation` (0-based, in the announcer's
        order) will announce: pickup k goes to installation k mod N."""
        whole, extra = divmod(self.pickups, self.installations)
        return whole + (1 if installation < extra else 0)

    def children_needed(self) -> int:
        """Announcements per installation over the run (each child goes home once), with room."""
        return math.ceil(self.pickups / self.installations * 1.1) + 2


def _account(sockets: list[dict[str, Any]], events_ok: Counter[str]) -> dict[str, int]:
    """Lost = deliveries a board should have had (every event committed for its installation,
    whatever its view) and never got, whatever the order; seq gaps and repeats are counted
    apart. Family pages are counted apart: they get only their own children's changes."""
    totals = Counter[str]()
    for s in sockets:
        if s["family"]:
            totals["families" if s["opened"] else "families_failed"] += 1
            totals["family_messages"] += s["messages"]
            totals["family_bytes"] += s["bytes"]
            continue
        if not s["opened"]:
            totals["boards_failed"] += 1
            continue
        expected = events_ok[s["key"]]
        totals["boards"] += 1
        totals["expected"] += expected
        totals["deliveries"] += s["unique"]
        totals["lost"] += max(0, expected - s["unique"])
        totals["unexpected"] += max(0, s["unique"] - expected)
        for name in ("duplicates", "out_of_order", "late", "resyncs", "messages", "bytes"):
            totals[name] += s[name]
        totals["closed_early"] += int(s["closed_early"])
    return dict(totals)


def _views(stopped: Stopped) -> dict[str, dict[str, Any]]:
    """Per view: how many boards, request → board and commit → board p50/p99."""
    boards = Counter(stopped.views[s["view"]] for s in stopped.sockets if not s["family"])
    request = by_view(stopped.request, stopped.views)
    commit = by_view(stopped.commit, stopped.views)
    return {
        view: {"boards": boards[view], "request": request.get(view), "commit": commit.get(view)}
        for view in stopped.views
        if view in boards
    }


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
    fleet = Fleet(boards, workdir, name=server.name, processes=board_processes)
    try:
        ready = fleet.wait_ready()
        plan = load.plan(time.time() + 1.0)
        window = (plan.t0 + load.ramp_s, plan.t0 + load.ramp_s + load.duration_s)
        groups = {
            "server": procs.tree(server.pid),
            # The board processes and this one, which runs the announcer.
            "loadgen": [*fleet.pids, os.getpid()],
            "services": services() if services else [],
        }
        outcome, marks = loop.run(_drive(server, target, plan, window, groups))
        expected = sum(outcome.events_ok[s.key] for s in boards.boards)
        deadline = time.monotonic() + drain_s
        while fleet.received() < expected and time.monotonic() < deadline:
            time.sleep(0.2)
        rss = procs.rss_bytes(server.pid)
        stopped = fleet.stop(outcome.sends(), window)
    finally:
        fleet.kill()
    totals = _account(stopped.sockets, outcome.events_ok)
    calls = outcome.summary(window)
    request = latency_summary(stopped.request)
    commit = latency_summary(stopped.commit, "commit_")
    start, end = marks
    steady_events = calls["events_in_window"]
    cpu: dict[str, Any] = {}
    for name in ("server", "services", "loadgen"):
        if not groups[name]:  # (a), (c): no Redis nor PostgreSQL of its own
            cpu[f"{name}_cpu_pct"] = cpu[f"{name}_cpu_ms_per_event"] = None
            continue
        used = procs.cpu_used(start[name], end[name])
        cpu[f"{name}_cpu_pct"] = round(
            100.0 * used / max(1e-9, end[name].wall - start[name].wall), 1
        )
        cpu[f"{name}_cpu_ms_per_event"] = (
            round(1000.0 * used / steady_events, 2) if steady_events else None
        )
    deliveries = totals.get("deliveries", 0)
    messages = totals.get("messages", 0)
    families = totals.get("families", 0)
    return {
        "boards": totals.get("boards", 0),
        "boards_failed": totals.get("boards_failed", 0),
        "installations": load.installations,
        "views": _views(stopped),
        "events_per_s": load.events_per_s,
        "duration_s": load.duration_s,
        "events": sum(outcome.events_ok.values()),
        "events_in_window": steady_events,
        "deliveries": deliveries,
        "expected_deliveries": totals.get("expected", 0),
        "lost": totals.get("lost", 0),
        "unexpected": totals.get("unexpected", 0),
        "duplicates": totals.get("duplicates", 0),
        "out_of_order": totals.get("out_of_order", 0),
        "late_messages": totals.get("late", 0),
        "resyncs": totals.get("resyncs", 0),
        "closed_early": totals.get("closed_early", 0),
        "deliveries_per_s": round(commit["commit_samples"] / load.duration_s, 1),
        # The headline: request → board (samples, p50_ms … curve_ms).
        "latency_from": "request",
        **request,
        "calls_without_seq": calls["calls_without_seq"],
        "deliveries_unmatched": stopped.unmatched,
        **commit,
        "announce_p50_ms": calls["announce_p50_ms"],
        "announce_p99_ms": calls["announce_p99_ms"],
        "step_p50_ms": calls["step_p50_ms"],
        "step_p99_ms": calls["step_p99_ms"],
        "message_bytes_mean": round(totals.get("bytes", 0) / messages) if messages else 0,
        "family_pages": families,
        "family_pages_failed": totals.get("families_failed", 0),
        "family_messages": totals.get("family_messages", 0),
        "family_message_bytes_mean": (
            round(totals.get("family_bytes", 0) / totals["family_messages"])
            if totals.get("family_messages")
            else 0
        ),
        **cpu,
        "machine_cpu_pct": round(procs.machine_percent(start["server"], end["server"]), 1),
        "server_rss_mb": round(rss / 2**20, 1),
        "connect": ready,
        "announcer": calls,
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
