"""Results out: the JSON file, the PNG chart, and BENCHMARKS.md at the repository root."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .scenarios import FAMILY_ENGLISH_EVERY, LABELS, describe_views
from .targets import FLOOR_FACTOR, PEAK_P50_MS, PEAK_P99_MS, measured

ANALYSIS = Path(__file__).parent / "ANALYSIS.md"
BAR_FLOOR_MS = 0.1  # the log axes start here, so every bar is drawn from the same base

COMMANDS = [
    "make bench          # set-up, then python -m bench.run: every scenario, ~6 min",
    "make bench-quick    # set-up, then python -m bench.run --quick: peak, (a) and (c), < 3 min",
    "# smaller runs while developing (results/<name>.json only):",
    ".venv/bin/python -m bench.run --scale 0.1 --duration 5 --only peak --scenarios a,c --name dev",
]

METHOD = [
    '- **Latency, request → board** (the headline, "tap → board"): the board\'s receipt '
    "instant − the instant the announcer sent the HTTP request that made the change. Relais's "
    "API answers each call with the event number (`seq`) its change got in its installation; "
    "the floor and the peer are told the number by the announcer. Each board keeps, per "
    "change it receives, the seq and the receipt instant; the join on (installation, seq) "
    "gives one sample per board and change (a message covering several changes, `from`…`seq`, "
    "gives one per change, received when the message came). Both sides read `time.time()` on "
    "this one host. A call whose answer carries no seq gives no request-timed sample: such "
    "calls are counted and shown, never guessed.",
    "- **Latency, commit → board** (second figure): the receipt instant − the message's `at`, "
    "the instant the change committed (Relais stamps it after the commit, before publishing; "
    "the floor and the peer on receiving the announcement).",
    "- **Calls**: the announce call (`POST /api/v1/pickups`) and the step calls (`POST "
    "/api/v1/pickups/{id}/status`) are timed apart, from the request's send to its answer.",
    "- **Load**: each pickup is four events to one installation, round robin: the "
    "announcement (ETA now, so it alerts at once), then Appeler, Prêt and Départ 1 s apart. "
    "Pickups start at a fixed rate, each as its own task whatever earlier calls are doing "
    "(open loop, no coordinated omission); a step that must wait for its announcement's "
    "answer leaves late and its lag is recorded. Each child is announced once (after Départ "
    "it has gone home), one from each group in turn.",
    "- **Steady window**: the first 3 s (until the first pickups reach Départ) are a ramp; "
    "request-timed samples and call durations cover the calls sent in the following "
    "`duration` seconds, commit-timed samples the changes committed in it, and CPU that "
    "window; deliveries of the whole run count for *lost*.",
    "- **Boards**: `websockets` clients in two load-generator processes (uvloop), each "
    "waiting for its snapshot before the load starts; `Origin` = the server's address. A "
    "Relais installation's boards are spread as in a real daycare, cycling the same ten "
    f"screens so that every installation has the same mix: {describe_views()}. *reception "
    "all*: the front desk, signed in as the installation's reception account, all groups; "
    '*group N*: that group\'s tablet on "my group", signed in as an educator whose home '
    "group it is; *wall*: the wall display's link (`/board/ws?display=<token>`, read-only); "
    "*en*: the `relais_lang=en` cookie of the language switch (2 boards in 10). That is seven "
    "views per installation, each rendered once per change. Every board gets every change "
    "of its installation (a group's tablet too: its seq must not skip).",
    "- **Family pages**: for Relais, each child the run announces has its guardian signed in "
    "on the family page (`/parent/ws`, the parent session cookie; one in "
    f"{FAMILY_ENGLISH_EVERY} in English). They are extra load: their messages are counted, "
    "not timed (they carry no seq), and not part of *lost*.",
    "- **(a)** `relais serve` on a seeded SQLite file; **(b)** `relais serve --workers 2` "
    "with `RELAIS_REDIS_URL`, on a throwaway PostgreSQL database; a production start "
    "(secret key, no demo accounts). Redis for (b) and (d) is a private `redis-server` "
    "started for the run (pub/sub channels are shared by all of a server's databases).",
    "- **(c)** the floor, `bench/floor_server.py`: raw `websockets`, `broadcast()` of the "
    "same bytes to an installation's boards; announcements reach it over HTTP on a second "
    "port (websockets' parser takes no request body). **(d)** the peer, "
    "`bench/peer_channels`: Django Channels + channels_redis under uvicorn, one worker. "
    "Neither has views nor family pages: one broadcast per installation, to every board. "
    "Their messages are as large as Relais's mean message, measured in the same run.",
    "- **Data**: a fresh database per measurement (`bench/seed.py`, the server's migrations "
    "and models): installations of three groups of fourteen present children (more when a "
    "run announces more), one guardian each, in a time zone where it is about noon.",
    "- **CPU**: user + system time over the steady window (/proc), in % of one core and in "
    "ms per event (÷ the events whose call was sent in the window): the server's process "
    "tree; apart, the PostgreSQL backends and Redis it uses (b); and the load generator, "
    "the board processes and the announcer's. **RSS per idle board**: the server's RSS "
    "before and after N idle boards (the same mix of views) open over 20 installations (one "
    "warm board per installation open throughout), divided by N.",
    "- **Page**: `bench/page_render.py` builds the app in-process on an installation of 300 "
    "children (20 groups, 12 alerts) and times `GET /board` inside the ASGI call "
    "(middleware, session, queries, templates; no network), 50 requests after 5 warm-ups.",
]

LOAD_TITLES = {
    "peak": "School-board peak",
    "stress": "Fan-out stress",
}


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")


def _target_lines(axis: Any, load: str, rows: list[dict[str, Any]]) -> None:
    """Dashed lines where the issue's targets sit on this load's panel."""
    if load == "peak":
        axis.axhline(PEAK_P50_MS, color="#4c72b0", linestyle="--", linewidth=1, label="p50 target")
        axis.axhline(PEAK_P99_MS, color="#c44e52", linestyle="--", linewidth=1, label="p99 target")
    floor = next((r for r in rows if r["scenario"] == "c"), None)
    if floor is not None and floor["p99_ms"] is not None:
        axis.axhline(
            FLOOR_FACTOR * floor["p99_ms"],
            color="#c44e52",
            linestyle=":",
            linewidth=1,
            label="2 × floor p99",
        )


def write_chart(results: dict[str, Any], path: Path) -> None:
    """Per load, p50/p95/p99 bars of every scenario (log scale), and the latency curves."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _position: f"{value:g}")
    rows = [r for r in results.get("fanout", []) if measured(r)]
    loads = list(dict.fromkeys(r["load"] for r in rows))
    if not loads:
        return
    figure, axes = plt.subplots(1, len(loads) + 1, figsize=(5.5 * (len(loads) + 1), 4.8))
    for axis, load in zip(axes, loads, strict=False):
        mine = [r for r in rows if r["load"] == load]
        for offset, (key, colour) in enumerate(
            (("p50_ms", "#4c72b0"), ("p95_ms", "#dd8452"), ("p99_ms", "#c44e52"))
        ):
            positions = [i + (offset - 1) * 0.26 for i in range(len(mine))]
            heights = [max(BAR_FLOOR_MS, r[key] or 0.0) for r in mine]
            axis.bar(positions, heights, 0.26, label=key[:3], color=colour)
        commit = [(i, r["commit_p99_ms"]) for i, r in enumerate(mine) if r["commit_p99_ms"]]
        axis.scatter(
            [i + 0.26 for i, _ms in commit],
            [max(BAR_FLOOR_MS, ms) for _i, ms in commit],
            marker="x",
            color="black",
            zorder=3,
            label="commit → board p99",
        )
        for i, r in enumerate(mine):
            if not r["samples"]:
                axis.text(i, BAR_FLOOR_MS * 2, "no seq:\nnot timed", ha="center", fontsize=7)
        _target_lines(axis, load, mine)
        axis.set_xticks(range(len(mine)), [f"({r['scenario']})" for r in mine])
        axis.set_yscale("log")
        axis.set_ylim(bottom=BAR_FLOOR_MS)
        axis.yaxis.set_major_formatter(plain)
        axis.set_ylabel("request → board (ms)")
        sample = mine[0]
        axis.set_title(
            f"{LOAD_TITLES.get(load, load)}\n{sample['boards']:,} boards, "
            f"{sample['installations']} installations, {sample['events_per_s']:g} events/s",
            fontsize=10,
        )
        axis.legend(fontsize=7)
        axis.grid(axis="y", alpha=0.3)
    curves = axes[-1]
    for row in rows:
        points = row["curve_ms"]
        if not points:
            continue
        curves.plot(
            [max(BAR_FLOOR_MS, ms) for _p, ms in points],
            [p for p, _ms in points],
            marker=".",
            label=f"{row['load']} ({row['scenario']})",
        )
    curves.set_xscale("log")
    curves.xaxis.set_major_formatter(plain)
    curves.set_xlabel("request → board (ms)")
    curves.set_ylabel("percentile of deliveries")
    curves.set_title("Latency distribution", fontsize=10)
    curves.legend(fontsize=7)
    curves.grid(alpha=0.3)
    legend = "   ".join(f"({k}) {v}" for k, v in LABELS.items())
    figure.text(0.5, 0.005, legend, ha="center", fontsize=8)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _scenario(r: dict[str, Any]) -> str:
    return f"({r['scenario']}) {LABELS[r['scenario']]}"


def _latency_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| load | scenario | boards / installations | events/s | deliveries/s "
        "| **request → board p50 / p95 / p99 / max ms** | commit → board p50 / p99 ms "
        "| announce call p50 / p99 ms | step call p50 / p99 ms | lost | out of order "
        "| late calls |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not measured(r):
            lines.append(
                f"| {r['load']} | {_scenario(r)} | — | — | — | — | — | — | — | — | — "
                f"| {r.get('error') or r.get('skipped')} |"
            )
            continue
        if r["samples"]:
            request = " / ".join(_cell(r[k]) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        else:
            request = f"not timed: {r['calls_without_seq']:,} answers without seq"
        cells = [
            r["load"],
            _scenario(r),
            f"{r['boards']:,} / {r['installations']}",
            r["events_per_s"],
            r["deliveries_per_s"],
            request,
            f"{_cell(r['commit_p50_ms'])} / {_cell(r['commit_p99_ms'])}",
            f"{_cell(r['announce_p50_ms'])} / {_cell(r['announce_p99_ms'])}",
            f"{_cell(r['step_p50_ms'])} / {_cell(r['step_p99_ms'])}",
            r["lost"],
            r["out_of_order"],
            r["announcer"]["late_calls"],
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _cost_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| load | scenario | message bytes | family pages / messages | server CPU % "
        "| **server CPU ms per event** | Redis + PG CPU % / ms per event "
        "| load generator CPU % / ms per event | machine CPU % | server RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not measured(r):
            continue
        cells = [
            r["load"],
            _scenario(r),
            r["message_bytes_mean"],
            f"{r['family_pages']:,} / {r['family_messages']:,}" if r["family_pages"] else "—",
            r["server_cpu_pct"],
            r["server_cpu_ms_per_event"],
            f"{_cell(r['services_cpu_pct'])} / {_cell(r['services_cpu_ms_per_event'])}",
            f"{_cell(r['loadgen_cpu_pct'])} / {_cell(r['loadgen_cpu_ms_per_event'])}",
            r["machine_cpu_pct"],
            r["server_rss_mb"],
        ]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def _views_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| load | scenario | view | boards | request → board p50 / p99 ms "
        "| commit → board p50 / p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not measured(r) or r["scenario"] not in {"a", "b"}:
            continue
        for view, figures in r["views"].items():
            request, commit = figures["request"] or {}, figures["commit"] or {}
            cells = [
                r["load"],
                f"({r['scenario']})",
                view,
                figures["boards"],
                f"{_cell(request.get('p50_ms'))} / {_cell(request.get('p99_ms'))}",
                f"{_cell(commit.get('p50_ms'))} / {_cell(commit.get('p99_ms'))}",
            ]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def markdown(results: dict[str, Any], chart: str) -> str:
    machine = results["machine"]
    out = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`bench/run.py`) on "
        f"{results['generated_at']}: do not edit by hand, run it again.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']}, {machine['cores']} cores; memory {machine['memory_gb']} GB",
        f"- {machine['os']}; Python {machine['python']}",
        f"- {', '.join(f'{k} {v}' for k, v in machine['packages'].items())}",
        f"- Whole-machine CPU busy just before the run: {machine['background_cpu_pct']} % "
        "(other work on the machine disturbs every figure below)",
        "",
        "## Commands",
        "",
        "```sh",
        *COMMANDS,
        "```",
        "",
        "## Method",
        "",
        *METHOD,
        "",
        "## Fan-out",
        "",
        *[
            f"- **{load['name']}**: {load['installations'] * load['boards_per_installation']:,} "
            f"boards over {load['installations']} installations "
            f"({load['boards_per_installation']} each), {load['events_per_s']:g} events/s, "
            f"{load['duration_s']:g} s steady; scenarios {', '.join(load['scenarios'])}"
            for load in results["loads"]
        ],
        f"- **Views**: in (a) and (b), each installation's boards cycle {describe_views()}, "
        "and each child announced has a family page open; in (c) and (d), one broadcast per "
        "installation to every board.",
        "",
        f"![Latency per scenario]({chart})",
        "",
        "### Latency",
        "",
        *_latency_table(results.get("fanout", [])),
        "",
        "Percentiles and call durations cover the steady window only. *Lost* counts "
        "deliveries a board never received of events the server accepted (every board of an "
        "installation, whatever its view, gets every change); *out of order* counts messages "
        "that arrived after a later one of the same installation; *late calls* left more than "
        "10 ms after their moment (a step waiting for its announcement's answer).",
        "",
        "### Cost",
        "",
        *_cost_table(results.get("fanout", [])),
        "",
        "CPU % is of one core (the machine has 2); ms per event divides the steady window's "
        "CPU time by the events whose call was sent in it. Server CPU is summed over the "
        "server's processes; the Redis and PostgreSQL it uses are counted apart (SQLite runs "
        "inside Relais); the load generator is the board processes and the announcer's. "
        "Machine CPU is the whole machine's (100 % = both cores busy). Family pages are "
        "Relais's only; message bytes are the boards' mean message.",
        "",
        "### Per view (Relais)",
        "",
        *_views_table(results.get("fanout", [])),
        "",
        "## Idle boards",
        "",
        "| scenario | boards | RSS before MB | RSS after MB | RSS per board KB | connect s |",
        "|---|---|---|---|---|---|",
    ]
    for r in results.get("idle", []):
        if "rss_per_board_kb" not in r:
            out.append(f"| ({r['scenario']}) | — | — | — | — | {r.get('error')} |")
            continue
        out.append(
            f"| ({r['scenario']}) {LABELS[r['scenario']]} | {r['boards']:,} | "
            f"{r['rss_before_mb']} | {r['rss_after_mb']} | {r['rss_per_board_kb']} | "
            f"{r['connect']['connect_s']} |"
        )
    page = results.get("page") or {}
    out += ["", "## Board page", ""]
    if "median_ms" in page:
        out.append(
            f"An installation of {page['children']} children in {page['groups']} groups with "
            f"{page['alerts']} alerts: median {page['median_ms']} ms, p90 {page['p90_ms']} ms, "
            f"max {page['max_ms']} ms over {page['requests']} requests "
            f"({page['page_bytes']:,} bytes)."
        )
    else:
        out.append(f"Not measured: {page.get('error', 'not part of this run')}.")
    out += ["", "## Targets", "", "| target | result | detail |", "|---|---|---|"]
    for t in results["targets"]:
        verdict = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
        out.append(f"| {t['target']} | {verdict} | {t['detail']} |")
    out.append("")
    if ANALYSIS.exists():  # written by hand from a full run: what limits the figures
        out += ["## Reading the figures", "", ANALYSIS.read_text().strip(), ""]
    return "\n".join(out)


def write_markdown(results: dict[str, Any], path: Path, chart: str) -> None:
    path.write_text(markdown(results, chart))
