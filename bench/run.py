"""The fan-out benchmark, every scenario side by side in one run.

    python -m bench.run            # make bench: ~6 min; results/full.json, full.png, BENCHMARKS.md
    python -m bench.run --quick    # make bench-quick: peak, (a) and (c), < 3 min; last line JSON

Smaller runs for development: --scale 0.1 (fewer boards), --duration 10, --only stress,
--scenarios a,c. They write results/<--name>.json and leave BENCHMARKS.md alone. Relais's
boards take the view mix (scenarios.VIEWS) in order, so --only stress --scale 0.1 (ten boards
per installation) keeps the whole mix, while the peak at 0.1 keeps one board each.
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
from .targets import judge, measured

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
# The peak's layout and rate with a shorter steady window: make bench-quick stays under 3 min.
QUICK = Suite(
    "quick",
    [
        (
            Load(
                "peak",
                installations=200,
                boards_per_installation=10,
                events_per_s=100,
                duration_s=12,
            ),
            ["a", "c"],
        )
    ],
    idle_boards=0,
    idle_scenarios=[],
    page=False,
    drain_s=5.0,  # keeps make bench-quick under 3 min even when Relais falls behind
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
            row["view_mix"] = scenarios.describe_views()
            children = scenarios.relais_children(load)
            families = scenarios.relais_families(load)
            with scenarios.relais(
                key, load.installations, children, workdir, redis, families=families
            ) as r:
                boards = r.boards(load.boards_per_installation, families=True)
                return row | fanout.run(
                    r.server,
                    r.target(),
                    boards,
                    load,
                    workdir,
                    drain_s=drain_s,
                    services=r.services,
                )
        row["view_mix"] = "one broadcast per installation (no views, no family pages)"
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
    if not measured(row):
        return f"{row['load']} ({row['scenario']}): {row.get('error') or row.get('skipped')}"
    if row["samples"]:
        request = f"request→board p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms"
    else:
        request = (
            f"request→board NOT MEASURED: {row['calls_without_seq']} calls answered no seq, "
            f"{row['deliveries_unmatched']} deliveries unmatched"
        )
    families = f", {row['family_pages']} family pages" if row["family_pages"] else ""
    return (
        f"{row['load']} ({row['scenario']}): {row['boards']} boards{families}, "
        f"{row['deliveries_per_s']} deliveries/s, {request}; commit→board p50 "
        f"{row['commit_p50_ms']} ms, p99 {row['commit_p99_ms']} ms; announce p99 "
        f"{row['announce_p99_ms']} ms, step p99 {row['step_p99_ms']} ms; lost {row['lost']}; "
        f"server CPU {row['server_cpu_pct']} % ({row['server_cpu_ms_per_event']} ms/event)"
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
    """The one-line verdict of make bench-quick: Relais (a) against the floor (c), both timed
    from the request's send. A figure that could not be measured (no request-timed sample:
    the API answered no seq) is null."""
    rows = {r["scenario"]: r for r in results["fanout"] if measured(r)}
    relais, floor = rows.get("a"), rows.get("c")
    if relais is None or floor is None:
        return {"error": "scenario (a) or (c) did not complete; see the log above"}
    ratio = None
    if relais["p99_ms"] is not None and floor["p99_ms"] is not None:
        ratio = round(relais["p99_ms"] / max(0.01, floor["p99_ms"]), 2)
    return {
        "load": relais["load"],
        "boards": relais["boards"],
        "installations": relais["installations"],
        "events_per_s": relais["events_per_s"],
        "latency_from": "request",
        "p50_ms": relais["p50_ms"],
        "p99_ms": relais["p99_ms"],
        "announce_p99_ms": relais["announce_p99_ms"],
        "cpu_ms_per_event": relais["server_cpu_ms_per_event"],
        "lost": relais["lost"],
        "baseline_p99_ms": floor["p99_ms"],
        "p99_ratio_vs_baseline": ratio,
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
    parser.add_argument(
        "--quick", action="store_true", help="the peak's layout, (a) and (c), 12 s steady, < 3 min"
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the board counts")
    parser.add_argument("--duration", type=float, help="steady window, seconds")
    parser.add_argument("--rate", type=float, help="events per second, instead of the load's")
    parser.add_argument("--only", help="comma-separated: peak,stress,idle,page")
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
