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


def latency_summary(samples: array[float], window: tuple[float, float]) -> dict[str, Any]:
    """`samples`: pairs (at, latency ms). Only deliveries of events committed inside `window`
    (the steady part of the run) count in the percentiles."""
    start, end = window
    ordered = sorted(samples[i + 1] for i in range(0, len(samples), 2) if start <= samples[i] < end)
    return {
        "measured_deliveries": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 2),
        "p95_ms": round(percentile(ordered, 95), 2),
        "p99_ms": round(percentile(ordered, 99), 2),
        "max_ms": round(percentile(ordered, 100), 2),
        "curve_ms": [[p, round(percentile(ordered, p), 2)] for p in CURVE_POINTS],
    }
