"""The issue's targets, judged from one run's results: met, missed (and by how much), or not
measured (and why)."""

from __future__ import annotations

from typing import Any

PEAK_P50_MS = 10.0
PEAK_P99_MS = 50.0
FLOOR_FACTOR = 2.0
IDLE_BOARDS = 10_000
IDLE_KB = 40.0
PAGE_MS = 30.0


def _find(results: dict[str, Any], load: str, scenario: str) -> dict[str, Any] | None:
    for row in results.get("fanout", []):
        if row["load"] == load and row["scenario"] == scenario and "p99_ms" in row:
            found: dict[str, Any] = row
            return found
    return None


def _target(name: str, met: bool | None, detail: str) -> dict[str, Any]:
    return {"target": name, "met": met, "detail": detail}


def _peak(results: dict[str, Any], scenario: str) -> dict[str, Any]:
    name = f"School-board peak ({scenario}): p50 ≤ 10 ms, p99 ≤ 50 ms, none lost"
    row = _find(results, "peak", scenario)
    if row is None:
        return _target(name, None, "not measured in this run")
    misses = []
    if row["p50_ms"] > PEAK_P50_MS:
        misses.append(f"p50 {row['p50_ms']} ms > {PEAK_P50_MS:g}")
    if row["p99_ms"] > PEAK_P99_MS:
        misses.append(f"p99 {row['p99_ms']} ms > {PEAK_P99_MS:g}")
    if row["lost"]:
        misses.append(f"{row['lost']} deliveries lost")
    detail = f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms, lost {row['lost']}"
    if misses:
        detail = "; ".join(misses) + f" (server CPU {row['server_cpu_pct']} % of one core)"
    return _target(name, not misses, detail)


def _stress(results: dict[str, Any], scenario: str) -> dict[str, Any]:
    name = f"Fan-out stress ({scenario}): p99 ≤ 2 × floor (c), and below the peer (d)"
    row = _find(results, "stress", scenario)
    floor = _find(results, "stress", "c")
    peer = _find(results, "stress", "d")
    if row is None or floor is None:
        return _target(name, None, "not measured in this run (needs this scenario and c)")
    ratio = row["p99_ms"] / max(0.01, floor["p99_ms"])
    parts = [f"p99 {row['p99_ms']} ms = {ratio:.1f} × floor {floor['p99_ms']} ms"]
    met: bool | None = ratio <= FLOOR_FACTOR
    if peer is None:
        parts.append("peer not measured")
        met = False if not met else None
    else:
        below = row["p99_ms"] < peer["p99_ms"]
        parts.append(f"{'below' if below else 'not below'} peer {peer['p99_ms']} ms")
        met = bool(met) and below
    if row["lost"]:
        parts.append(f"{row['lost']} lost")
    parts.append(f"server CPU {row['server_cpu_pct']} % of one core")
    return _target(name, met, "; ".join(parts))


def _idle(results: dict[str, Any]) -> dict[str, Any]:
    name = "Idle: 10,000 boards on one worker at ≤ 40 KB of RSS each"
    row = next(
        (r for r in results.get("idle", []) if r["scenario"] == "a" and "rss_per_board_kb" in r),
        None,
    )
    if row is None:
        return _target(name, None, "not measured in this run")
    detail = f"{row['rss_per_board_kb']} KB per board over {row['boards']} boards"
    if row["boards"] < IDLE_BOARDS:
        return _target(
            name, None, detail + f" (fewer than {IDLE_BOARDS:,}: not the target's scale)"
        )
    return _target(name, row["rss_per_board_kb"] <= IDLE_KB, detail)


def _page(results: dict[str, Any]) -> dict[str, Any]:
    name = "Page: the board of 300 children renders in ≤ 30 ms (median, server side)"
    page = results.get("page")
    if not page or "median_ms" not in page:
        return _target(name, None, "not measured in this run")
    return _target(name, page["median_ms"] <= PAGE_MS, f"median {page['median_ms']} ms")


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _peak(results, "a"),
        _peak(results, "b"),
        _stress(results, "a"),
        _stress(results, "b"),
        _idle(results),
        _page(results),
    ]
