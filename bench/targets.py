"""The issue's targets, judged from one run's results: met, missed (and by how much), or not
measured (and why). Latency targets are on the headline figure, request → board ("tap →
board": from the announcer's HTTP request leaving to the board receiving the change)."""

from __future__ import annotations

from typing import Any

PEAK_P50_MS = 10.0
PEAK_P99_MS = 50.0
PEAK_ANNOUNCE_P99_MS = 50.0
PEAK_CPU_MS_PER_EVENT = 2.0
FLOOR_FACTOR = 2.0
IDLE_BOARDS = 10_000
IDLE_KB = 30.0
PAGE_MS = 30.0


def measured(row: dict[str, Any]) -> bool:
    """A fan-out row that ran to the end (its figures may still be None: unmeasurable)."""
    return "deliveries" in row


def _find(results: dict[str, Any], load: str, scenario: str) -> dict[str, Any] | None:
    for row in results.get("fanout", []):
        if row["load"] == load and row["scenario"] == scenario and measured(row):
            found: dict[str, Any] = row
            return found
    return None


def _target(name: str, met: bool | None, detail: str) -> dict[str, Any]:
    return {"target": name, "met": met, "detail": detail}


def _unmatched(row: dict[str, Any]) -> str:
    return (
        f"no request-timed sample: {row['calls_without_seq']} API answers carried no seq "
        f"({row['deliveries_unmatched']} deliveries unmatched); commit → board p99 "
        f"{row['commit_p99_ms']} ms"
    )


def _peak_a(results: dict[str, Any]) -> dict[str, Any]:
    name = (
        f"Peak (a): tap → board p50 ≤ {PEAK_P50_MS:g} ms, p99 ≤ {PEAK_P99_MS:g} ms; announce "
        f"call p99 ≤ {PEAK_ANNOUNCE_P99_MS:g} ms; none lost; server CPU ≤ "
        f"{PEAK_CPU_MS_PER_EVENT:g} ms per event"
    )
    row = _find(results, "peak", "a")
    if row is None:
        return _target(name, None, "not measured in this run")
    misses, parts = [], []
    if row["samples"]:
        parts.append(f"p50 {row['p50_ms']} ms, p99 {row['p99_ms']} ms")
        if row["p50_ms"] > PEAK_P50_MS:
            misses.append(f"p50 {row['p50_ms']} ms > {PEAK_P50_MS:g}")
        if row["p99_ms"] > PEAK_P99_MS:
            misses.append(f"p99 {row['p99_ms']} ms > {PEAK_P99_MS:g}")
    else:
        parts.append(_unmatched(row))
    parts.append(f"announce p99 {row['announce_p99_ms']} ms")
    if row["announce_p99_ms"] > PEAK_ANNOUNCE_P99_MS:
        misses.append(f"announce p99 {row['announce_p99_ms']} ms > {PEAK_ANNOUNCE_P99_MS:g}")
    parts.append(f"lost {row['lost']}")
    if row["lost"]:
        misses.append(f"{row['lost']} deliveries lost")
    cpu = row["server_cpu_ms_per_event"]
    parts.append(f"server CPU {cpu} ms per event")
    if cpu is None or cpu > PEAK_CPU_MS_PER_EVENT:
        misses.append(f"server CPU {cpu} ms per event > {PEAK_CPU_MS_PER_EVENT:g}")
    if misses:
        detail = "; ".join(misses)
        if not row["samples"]:
            detail += "; " + _unmatched(row)
        return _target(name, False, detail)
    if not row["samples"]:
        return _target(name, None, "; ".join(parts))
    return _target(name, True, "; ".join(parts))


def _peak_b(results: dict[str, Any]) -> dict[str, Any]:
    name = (
        f"Peak (b), 2 workers, Redis, PostgreSQL: tap → board p99 ≤ {PEAK_P99_MS:g} ms, none lost"
    )
    row = _find(results, "peak", "b")
    if row is None:
        return _target(name, None, "not measured in this run")
    misses = []
    if row["samples"] and row["p99_ms"] > PEAK_P99_MS:
        misses.append(f"p99 {row['p99_ms']} ms > {PEAK_P99_MS:g}")
    if row["lost"]:
        misses.append(f"{row['lost']} deliveries lost")
    cpu = f"server CPU {row['server_cpu_ms_per_event']} ms per event"
    if misses:
        return _target(name, False, "; ".join(misses) + f" ({cpu})")
    if not row["samples"]:
        return _target(name, None, _unmatched(row) + f"; lost {row['lost']}")
    return _target(name, True, f"p99 {row['p99_ms']} ms, lost {row['lost']} ({cpu})")


def _stress(results: dict[str, Any]) -> dict[str, Any]:
    name = (
        f"Stress (a), 2,000 boards / 20 installations: tap → board p99 ≤ {FLOOR_FACTOR:g} × "
        "the floor's (c), and below the Channels peer's (d)"
    )
    row = _find(results, "stress", "a")
    floor = _find(results, "stress", "c")
    peer = _find(results, "stress", "d")
    if row is None or floor is None:
        return _target(name, None, "not measured in this run (needs (a) and (c))")
    if not row["samples"]:
        return _target(name, None, _unmatched(row))
    if not floor["samples"]:
        return _target(name, None, "the floor (c) has no request-timed sample")
    ratio = row["p99_ms"] / max(0.01, floor["p99_ms"])
    parts = [f"p99 {row['p99_ms']} ms = {ratio:.1f} × floor {floor['p99_ms']} ms"]
    met: bool | None = ratio <= FLOOR_FACTOR
    if peer is None or not peer["samples"]:
        parts.append("peer not measured")
        met = False if not met else None
    else:
        below = row["p99_ms"] < peer["p99_ms"]
        parts.append(f"{'below' if below else 'not below'} peer {peer['p99_ms']} ms")
        met = bool(met) and below
    if row["lost"]:
        parts.append(f"{row['lost']} lost")
    parts.append(f"server CPU {row['server_cpu_ms_per_event']} ms per event")
    return _target(name, met, "; ".join(parts))


def _idle(results: dict[str, Any]) -> dict[str, Any]:
    name = f"Idle: {IDLE_BOARDS:,} boards on one worker at ≤ {IDLE_KB:g} KB of RSS each"
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
    name = f"Page: the board of 300 children renders in ≤ {PAGE_MS:g} ms (median, server side)"
    page = results.get("page")
    if not page or "median_ms" not in page:
        return _target(name, None, "not measured in this run")
    return _target(name, page["median_ms"] <= PAGE_MS, f"median {page['median_ms']} ms")


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _peak_a(results),
        _peak_b(results),
        _stress(results),
        _idle(results),
        _page(results),
    ]
