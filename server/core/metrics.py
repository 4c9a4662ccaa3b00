"""What Relais tells Prometheus (the official client library), defined once.

One worker keeps its figures in memory. `relais serve --workers N` runs N processes: it sets
PROMETHEUS_MULTIPROC_DIR before they start, each keeps its figures in files there, and
whichever worker answers `GET /metrics` reads every worker's files (the client library's
multiprocess mode). Counters and histograms are summed over the workers; the gauges are
exported per worker (a `pid` label), and a worker that stops takes its gauges with it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

# Decided by the client library when it was imported, from PROMETHEUS_MULTIPROC_DIR.
MULTIPROCESS = values.ValueClass is not values.MutexValue
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Fast paths: an alert reaches a board in milliseconds; a page in tens of them.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

CONNECTED = Gauge(
    "relais_connected_sockets",
    "Open live sockets on this worker: boards and wall displays (board), parents' pages (parent).",
    ["kind"],
    multiprocess_mode="liveall",
)
for _kind in ("board", "parent"):
    CONNECTED.labels(_kind)  # exported at 0 before the first socket opens
EVENTS_PUBLISHED = Counter(
    "relais_events_published", "Board changes handed to the broker after their commit."
)
EVENTS_DELIVERED = Counter(
    "relais_events_delivered",
    "Messages written to live sockets (one per socket: changes, snapshots, family pages).",
)
COMMIT_TO_SEND = Histogram(
    "relais_commit_to_send_seconds",
    "From a change's commit to its message written to the last socket of its views.",
    buckets=_LATENCY_BUCKETS,
)
REQUEST_SECONDS = Histogram(
    "relais_request_seconds",
    "HTTP requests by route (the path's template, never its values) and method.",
    ["route", "method"],
    buckets=_LATENCY_BUCKETS,
)
SLOW_SOCKETS_DROPPED = Counter(
    "relais_slow_sockets_dropped",
    "Sockets closed because they stopped reading (they reconnect and resync).",
)
SNAPSHOT_RESYNCS = Counter(
    "relais_snapshot_resyncs",
    "Whole snapshots sent to a socket already open: a board asking after a gap, the event "
    "bus back, a held board found different from the database.",
)
TICK_LAG = Gauge(
    "relais_tick_lag_seconds",
    "How late the last background tick (promoting arrivals, expiring pickups) started.",
    multiprocess_mode="liveall",
)
UP = Gauge(
    "relais_up",
    "1 when this worker reaches the component (database; redis when configured), else 0.",
    ["component"],
    multiprocess_mode="liveall",
)


def exposition() -> bytes:
    """Every worker's figures in Prometheus's text format."""
    if not MULTIPROCESS:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


_LIVE_FILE = re.compile(r"^gauge_live\w*_(\d+)\.db$")


def forget_stopped_workers() -> None:
    """Remove the per-worker gauges of workers that are gone (one killed, say, and replaced),
    so the scrape shows only the living."""
    if not MULTIPROCESS:
        return
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    for path in Path(directory).glob("gauge_live*.db"):
        match = _LIVE_FILE.match(path.name)
        if match and not _alive(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), directory)  # type: ignore[no-untyped-call]


def worker_stopped() -> None:
    if MULTIPROCESS:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
