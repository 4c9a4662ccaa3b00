"""Pickup timing reports: pure computations on rows already read (no database, no clock).

A pickup's steps come from the append-only `pickup_event` log: the alert (to_status
"announced"), Appeler ("called"), Prêt ("ready") and Départ ("departed"). Each duration is
measured only on the pickups that have both of its ends, so a pickup cancelled before Appeler
counts in none of the medians after its alert, and a missing step never becomes a zero.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

ANNOUNCED, CALLED, READY, DEPARTED = "announced", "called", "ready", "departed"
# The three steps of the chart, in order: (from status, to status).
STEPS: tuple[tuple[str, str], ...] = ((ANNOUNCED, CALLED), (CALLED, READY), (READY, DEPARTED))
# A suggestion needs at least this many measured preparations, and a gap above this.
MIN_PICKUPS_FOR_SUGGESTION = 5
SUGGESTION_GAP_MINUTES = 2.0


@dataclass(frozen=True)
class EventRow:
    """One transition of one pickup, as read from `pickup_event`."""

    pickup_id: int
    to_status: str
    at: datetime


@dataclass(frozen=True)
class PickupSteps:
    """When one pickup first reached each step (None: never reached)."""

    pickup_id: int
    announced: datetime | None = None
    called: datetime | None = None
    ready: datetime | None = None
    departed: datetime | None = None

    def at(self, status: str) -> datetime | None:
        moment: datetime | None = getattr(self, status)
        return moment

    def minutes(self, start: str, end: str) -> float | None:
        """Minutes from `start` to `end`; None unless both happened, in that order."""
        begin, finish = self.at(start), self.at(end)
        if begin is None or finish is None or finish < begin:
            return None
        return (finish - begin).total_seconds() / 60


def pickup_steps(events: Iterable[EventRow]) -> dict[int, PickupSteps]:
    """Group event rows by pickup, keeping the first time each step was reached."""
    firsts: dict[int, dict[str, datetime]] = {}
    for event in events:
        if event.to_status not in (ANNOUNCED, CALLED, READY, DEPARTED):
            continue
        seen = firsts.setdefault(event.pickup_id, {})
        if event.to_status not in seen or event.at < seen[event.to_status]:
            seen[event.to_status] = event.at
    return {
        pickup_id: PickupSteps(pickup_id, **{status: at for status, at in seen.items()})
        for pickup_id, seen in firsts.items()
    }


def median(values: Sequence[float]) -> float | None:
    """The median (the mean of the two middle values for an even count); None when empty."""
    return statistics.median(values) if values else None


@dataclass(frozen=True)
class StepMedians:
    """Medians in minutes over a set of pickups, and how many pickups each is measured on."""

    pickups: int  # pickups that reached the board (an alert)
    alert_to_called: float | None
    called_to_ready: float | None
    ready_to_departed: float | None
    alert_to_ready: float | None  # the measured preparation time
    preparation_samples: int  # pickups with both an alert and Prêt

    def step(self, index: int) -> float | None:
        return (self.alert_to_called, self.called_to_ready, self.ready_to_departed)[index]


def summarize(pickups: Iterable[PickupSteps]) -> StepMedians:
    """Medians of each step over `pickups` (only pickups that were announced count)."""
    alerted = [p for p in pickups if p.announced is not None]

    def durations(start: str, end: str) -> list[float]:
        return [m for p in alerted if (m := p.minutes(start, end)) is not None]

    preparation = durations(ANNOUNCED, READY)
    return StepMedians(
        pickups=len(alerted),
        alert_to_called=median(durations(ANNOUNCED, CALLED)),
        called_to_ready=median(durations(CALLED, READY)),
        ready_to_departed=median(durations(READY, DEPARTED)),
        alert_to_ready=median(preparation),
        preparation_samples=len(preparation),
    )


def suggested_preparation(medians: StepMedians, configured_minutes: int) -> int | None:
    """The preparation time to suggest, in whole minutes, or None when the configured one is
    close enough (within 2 minutes) or there are fewer than 5 measured preparations."""
    measured = medians.alert_to_ready
    if measured is None or medians.preparation_samples < MIN_PICKUPS_FOR_SUGGESTION:
        return None
    if abs(measured - configured_minutes) <= SUGGESTION_GAP_MINUTES:
        return None
    return max(1, int(measured + 0.5))  # round half up: 7.5 min suggests 8


# -- chart -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    step: int  # 0: alert → Appeler, 1: Appeler → Prêt, 2: Prêt → Départ
    x: float
    y: float
    width: float
    height: float
    minutes: float


@dataclass(frozen=True)
class BarGroup:
    label: str
    label_x: float
    bars: tuple[Bar, ...]


@dataclass(frozen=True)
class Tick:
    y: float
    minutes: int


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    plot_left: float
    plot_top: float
    plot_bottom: float
    groups: tuple[BarGroup, ...]
    ticks: tuple[Tick, ...]


def _tick_step(top: float) -> int:
    for step in (1, 2, 5, 10, 15, 30, 60):
        if top / step <= 6:
            return step
    return 120


def bar_chart(
    rows: Sequence[tuple[str, StepMedians]],
    *,
    group_width: float = 120,
    plot_height: float = 220,
    left: float = 48,
    top: float = 24,
    bottom: float = 56,
) -> Chart:
    """Lay out one cluster of three bars (the step medians) per labelled row, in SVG units."""
    highest = max(
        (m for _label, medians in rows for i in range(3) if (m := medians.step(i)) is not None),
        default=0.0,
    )
    step = _tick_step(max(highest, 1.0))
    scale_top = float(step * max(1, -(-highest // step)))  # round up to a whole tick
    bar_width = group_width / 4
    groups: list[BarGroup] = []
    for index, (label, medians) in enumerate(rows):
        x0 = left + index * group_width + bar_width / 2
        bars = []
        for i in range(3):
            value = medians.step(i)
            if value is None:
                continue
            height = plot_height * value / scale_top
            bars.append(
                Bar(i, x0 + i * bar_width, top + plot_height - height, bar_width, height, value)
            )
        groups.append(BarGroup(label, x0 + 1.5 * bar_width, tuple(bars)))
    ticks = tuple(
        Tick(top + plot_height - plot_height * m / scale_top, m)
        for m in range(0, int(scale_top) + 1, step)
    )
    return Chart(
        width=left + max(1, len(rows)) * group_width + 8,
        height=top + plot_height + bottom,
        plot_left=left,
        plot_top=top,
        plot_bottom=top + plot_height,
        groups=tuple(groups),
        ticks=ticks,
    )
