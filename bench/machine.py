"""What the results were measured on."""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from . import procs

PACKAGES = (
    "starlette",
    "uvicorn",
    "websockets",
    "uvloop",
    "sqlalchemy",
    "redis",
    "django",
    "channels",
    "channels-redis",
)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 2**20, 1)
    return 0.0


def _versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def background_cpu(seconds: float = 1.0) -> float:
    """How busy the machine is before the benchmark adds anything (% of all cores)."""
    start = procs.mark([], time.time())
    time.sleep(seconds)
    return round(procs.machine_percent(start, procs.mark([], time.time())), 1)


def describe() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": _versions(),
        "background_cpu_pct": background_cpu(),
    }
