"""CPU time and resident memory of a process tree, read from /proc (Linux only).

A server may be one process (one uvicorn worker) or a supervisor with workers: every figure
here is summed over the tree rooted at the process the benchmark started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # the process ended between the listing and the read
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return raw[raw.rindex(")") + 2 :].split()


def tree(root: int) -> list[int]:
    """`root` and all its descendants alive now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def matching(text: str) -> list[int]:
    """Processes whose command line contains `text`, e.g. the PostgreSQL backends serving one
    database (their title names it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # Fields 14 and 15 of /proc/PID/stat (utime, stime) are at 11 and 12 once pid and comm go.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(root: int) -> int:
    total = 0
    for pid in tree(root):
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident * _PAGE
    return total


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, over every core."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / _TICKS, total / _TICKS


@dataclass(frozen=True)
class CpuMark:
    """A reading taken at one instant: per-process CPU time of some trees, and the machine's."""

    wall: float
    per_process: dict[int, float]
    machine: tuple[float, float]


def mark(pids: list[int], wall: float) -> CpuMark:
    return CpuMark(wall, {pid: cpu_seconds(pid) for pid in pids}, machine_busy_seconds())


def cpu_used(start: CpuMark, end: CpuMark) -> float:
    """CPU seconds used between two marks by the processes alive at both."""
    # A process that ended inside the window (a PostgreSQL backend closing) reads 0 at the
    # end: it is left out rather than counted as negative time.
    return sum(
        end.per_process[p] - start.per_process[p]
        for p in end.per_process
        if p in start.per_process and end.per_process[p] >= start.per_process[p]
    )


def cpu_percent(start: CpuMark, end: CpuMark) -> float:
    """CPU used between two marks by the processes alive at both, in % of one core."""
    return 100.0 * cpu_used(start, end) / max(1e-9, end.wall - start.wall)


def machine_percent(start: CpuMark, end: CpuMark) -> float:
    """The whole machine's CPU use between two marks, in % of all cores (100 = saturated)."""
    busy = end.machine[0] - start.machine[0]
    total = end.machine[1] - start.machine[1]
    return 100.0 * busy / max(1e-9, total)
