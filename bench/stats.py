"""Percentiles and the per-scenario latency summary, from raw samples."""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from typing import Any

# Points of the latency distribution kept in the results, enough to redraw its curve.
CURVE_POINTS = (1, 5, 10, 25, 50, 75, 90, 95, 98, 99, 99.5, 99.9, 100)


def percentile(ordered: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(p / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(samples: array[float], prefix: str = "") -> dict[str, Any]:
    """`samples`: pairs (view index, latency ms) of the steady window's deliveries. Percentiles
    are None when there is no sample (never a 0 that would read as instant)."""
    ordered = sorted(samples[1::2])

    def point(p: float) -> float | None:
        return round(percentile(ordered, p), 2) if ordered else None

    summary: dict[str, Any] = {
        f"{prefix}samples": len(ordered),
        f"{prefix}p50_ms": point(50),
        f"{prefix}p95_ms": point(95),
        f"{prefix}p99_ms": point(99),
        f"{prefix}max_ms": point(100),
        f"{prefix}curve_ms": [[p, point(p)] for p in CURVE_POINTS] if ordered else [],
    }
    return summary


def by_view(samples: array[float], views: list[str]) -> dict[str, dict[str, Any]]:
    """p50 and p99 per view, from pairs (view index, latency ms)."""
    per: dict[int, list[float]] = {}
    for i in range(0, len(samples), 2):
        per.setdefault(int(samples[i]), []).append(samples[i + 1])
    found = {}
    for index, values in sorted(per.items()):
        values.sort()
        found[views[index]] = {
            "samples": len(values),
            "p50_ms": round(percentile(values, 50), 2),
            "p99_ms": round(percentile(values, 99), 2),
        }
    return found
