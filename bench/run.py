"""The fan-out benchmark, every scenario side by side in one run.

    python -m bench.run            # make bench: ~12 min; results/full.json, full.png, BENCHMARKS.md
    python -m bench.run --quick    # make bench-quick: (a) and (c), < 90 s; last line is JSON

Smaller runs for development: --scale 0.1 (fewer boards), --duration 10, --only stress,
--scenarios a,c. They write results/<--name>.json and leave BENCHMARKS.md alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import fanout, idle, machine, page_render, report, scenarios, servers
from .fanout import Load
from .scenarios import LABELS
from .targets import judge

RESULTS = servers.ROOT / "bench" / "results"
BENCHMARKS = servers.ROOT / "BENCHMARKS.md"
DEFAULT_MESSAGE_BYTES = 1200  # when no Relais run of the same load measured the real size
IDLE_INSTALLATIONS = 20  # as in the fan-out stress
IDLE_CHILDREN = 14


@dataclass(frozen=True)
class Suite:
    name: str
    loads: list[tuple[Load, list[str]]]
    idle_boards: int
    idle_scenarios: list[str]
    page: bool
    drain_s: float = 10.0  # how late a delivery may come before it counts as lost


FULL = Suite(
    "full",
    [
        (
            Load(
                "peak",
                installations=200,
                boards_per_installation=10,
                events_per_s=100,
                duration_s=30,
            ),
            ["a", "b"],
        ),
        (
            Load(
                "stress",
                installations=20,
                boards_per_installation=100,
                events_per_s=100,
                duration_s=30,
            ),
            ["a", "b", "c", "d"],
        ),
    ],
    idle_boards=10_000,
    idle_scenarios=["a", "c"],
    page=True,
)
QUICK = Suite(
    "quick",
    [
        (
            Load(
                "quick",
                installations=10,
                boards_per_installation=100,
                events_per_s=50,
                duration_s=10,
            ),
            ["a", "c"],
        )
    ],
    idle_boards=0,
    idle_scenarios=[],
    page=False,
    drain_s=5.0,  # keeps make bench-quick under 90 s even when Relais falls behind
)


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _failure(row: dict[str, Any], error: Exception) -> dict[str, Any]:
    traceback.print_exc(file=sys.stderr)
    return row | {"error": f"{type(error).__name__}: {error}"[:300]}


def fanout_row(
    load: Load,
    key: str,
    workdir: Path,
    redis: servers.Redis | None,
    message_bytes: int,
    drain_s: float,
) -> dict[str, Any]:
    row: dict[str, Any] = {"load": load.name, "scenario": key, "label": LABELS[key]}
    try:
        if key in {"a", "b"}:
            children = scenarios.relais_children(load)
            with scenarios.relais(key, load.installations, children, workdir, redis) as r:
                boards = r.boards(load.boards_per_installation)
                return row | fanout.run(
                    r.server,
                    r.target(),
                    boards,
                    load,
                    workdir,
                    drain_s=drain_s,
                    services=r.services,
                )
        if key == "d" and not servers.peer_available():
            return row | {"skipped": f"{servers.PEER_SCRIPT} does not exist"}
        with scenarios.announce_server(key, workdir, redis) as server:
            boards = scenarios.announce_boards(
                server, load.installations, load.boards_per_installation
            )
            target = scenarios.announce_target(load.installations, message_bytes)
            services = [redis.pid] if key == "d" and redis else []
            return row | fanout.run(
                server, target, boards, load, workdir, drain_s=drain_s, services=lambda: services
            )
    except Exception as error:
        return _failure(row, error)


def idle_row(key: str, boards: int, workdir: Path) -> dict[str, Any]:
    row: dict[str, Any] = {"scenario": key, "label": LABELS[key]}
    per_installation = max(1, boards // IDLE_INSTALLATIONS)
    try:
        if key == "a":
            with scenarios.relais(key, IDLE_INSTALLATIONS, IDLE_CHILDREN, workdir, None) as r:
                return row | idle.measure(
                    r.server, r.boards(1), r.boards(per_installation), workdir
                )
        with scenarios.announce_server(key, workdir, None) as server:
            warm = scenarios.announce_boards(server, IDLE_INSTALLATIONS, 1)
            many = scenarios.announce_boards(server, IDLE_INSTALLATIONS, per_installation)
            return row | idle.measure(server, warm, many, workdir)
    except Exception as error:
        return _failure(row, error)


def _summary_line(row: dict[str, Any]) -> str:
    if "p99_ms" not in row:
        return f"{row['load']} ({row['scenario']}): {row.get('error') or row.get('skipped')}"
    return (
        f"{row['load']} ({row['scenario']}): {row['boards']} boards, "
        f"{row['deliveries_per_s']} deliveries/s, p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, "
        f"max {row['max_ms']} ms, lost {row['lost']}, server CPU {row['server_cpu_pct']} %"
    )


def run_suite(suite: Suite) -> dict[str, Any]:
    results: dict[str, Any] = {
        "name": suite.name,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine.describe(),
        "loads": [
            {"name": load.name, "scenarios": keys, **load.__dict__} for load, keys in suite.loads
        ],
        "fanout": [],
        "idle": [],
        "page": None,
    }
    if suite.page:
        _log("page render")
        try:
            results["page"] = page_render.measure()
        except Exception as error:
            results["page"] = _failure({}, error)
    needs_redis = any(k in {"b", "d"} for _load, keys in suite.loads for k in keys)
    with tempfile.TemporaryDirectory(prefix="relais-bench-") as tmp:
        workdir = Path(tmp)
        redis = servers.start_redis(workdir) if needs_redis else None
        try:
            for load, keys in suite.loads:
                message_bytes = DEFAULT_MESSAGE_BYTES
                for key in keys:
                    _log(f"{load.name} ({key}) {LABELS[key]}: {load.boards} boards")
                    row = fanout_row(load, key, workdir, redis, message_bytes, suite.drain_s)
                    if key in {"a", "b"} and row.get("message_bytes_mean"):
                        message_bytes = int(row["message_bytes_mean"])
                    results["fanout"].append(row)
                    _log(_summary_line(row))
            for key in suite.idle_scenarios:
                _log(f"idle ({key}) {LABELS[key]}: {suite.idle_boards} boards")
                row = idle_row(key, suite.idle_boards, workdir)
                results["idle"].append(row)
                _log(f"idle ({key}): {row.get('rss_per_board_kb', row.get('error'))} KB per board")
        finally:
            if redis is not None:
                redis.stop()
    results["targets"] = judge(results)
    return results


def quick_line(results: dict[str, Any]) -> dict[str, Any]:
    """The one-line verdict of make bench-quick: Relais (a) against the floor (c)."""
    rows = {r["scenario"]: r for r in results["fanout"] if "p99_ms" in r}
    relais, floor = rows.get("a"), rows.get("c")
    if relais is None or floor is None:
        return {"error": "scenario (a) or (c) did not complete; see the log above"}
    return {
        "boards": relais["boards"],
        "events_per_s": relais["events_per_s"],
        "p50_ms": relais["p50_ms"],
        "p99_ms": relais["p99_ms"],
        "lost": relais["lost"],
        "baseline_p99_ms": floor["p99_ms"],
        "p99_ratio_vs_baseline": round(relais["p99_ms"] / max(0.01, floor["p99_ms"]), 2),
    }


def _suite(args: argparse.Namespace) -> Suite:
    suite = QUICK if args.quick else FULL
    only = set(args.only.split(",")) if args.only else None
    wanted = set(args.scenarios.split(",")) if args.scenarios else None
    loads = []
    for load, keys in suite.loads:
        if only is not None and load.name not in only:
            continue
        load = replace(
            load,
            boards_per_installation=max(1, round(load.boards_per_installation * args.scale)),
            duration_s=args.duration or load.duration_s,
            events_per_s=args.rate or load.events_per_s,
        )
        loads.append((load, [k for k in keys if wanted is None or k in wanted]))
    return Suite(
        args.name or suite.name,
        loads,
        round(suite.idle_boards * args.scale),
        [
            k
            for k in suite.idle_scenarios
            if (only is None or "idle" in only) and (wanted is None or k in wanted)
        ],
        suite.page and (only is None or "page" in only),
        suite.drain_s,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="(a) and (c), 1,000 boards, < 90 s")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the board counts")
    parser.add_argument("--duration", type=float, help="steady window, seconds")
    parser.add_argument("--rate", type=float, help="events per second, instead of the load's")
    parser.add_argument("--only", help="comma-separated: peak,stress,quick,idle,page")
    parser.add_argument("--scenarios", help="comma-separated: a,b,c,d")
    parser.add_argument("--name", help="results/<name>.json (default: full or quick)")
    args = parser.parse_args()
    # Thousands of sockets per process: the soft open-files limit up to the hard one (20,000
    # here). The servers and board processes started from here inherit it.
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    suite = _suite(args)
    canonical = (
        not args.quick
        and args.scale == 1.0
        and not (args.duration or args.rate or args.only or args.scenarios or args.name)
    )
    results = run_suite(suite)
    results["canonical"] = canonical
    report.write_json(results, RESULTS / f"{suite.name}.json")
    report.write_chart(results, RESULTS / f"{suite.name}.png")
    if canonical:
        report.write_markdown(results, BENCHMARKS, f"bench/results/{suite.name}.png")
    for target in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        _log(f"{verdict}: {target['target']} — {target['detail']}")
    _log(f"results: {RESULTS / f'{suite.name}.json'}")
    if args.quick:
        print(json.dumps(quick_line(results)), flush=True)


if __name__ == "__main__":
    main()
