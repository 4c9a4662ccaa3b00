"""A fleet of sockets (boards, family pages) spread over a few load-generator processes
(bench/boards.py), driven over their stdin/stdout."""

from __future__ import annotations

import json
import subprocess
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .servers import PYTHON, ROOT


@dataclass(frozen=True)
class Socket:
    """One socket a load generator opens."""

    url: str
    key: str  # its installation, as the announcer names it
    cookie: str | None = None  # the Cookie header
    view: str = "broadcast"  # what it shows, e.g. "reception all fr"; the floor's: "broadcast"
    family: bool = False  # a parent's page: messages counted, not timed, not expected


@dataclass(frozen=True)
class BoardSet:
    """Where and how the sockets connect."""

    sockets: list[Socket]
    origin: str | None = None  # the Origin header (Relais checks it against its own address)
    expect_snapshot: bool = False

    @property
    def boards(self) -> list[Socket]:
        return [s for s in self.sockets if not s.family]

    @property
    def families(self) -> list[Socket]:
        return [s for s in self.sockets if s.family]

    @property
    def views(self) -> list[str]:
        """Every view, in order of first appearance."""
        return list(dict.fromkeys(s.view for s in self.sockets))


@dataclass
class Stopped:
    """What the fleet brought back: per-socket summaries (boards.Board.summary) and the steady
    window's samples, pairs (view index into `views`, ms)."""

    sockets: list[dict[str, Any]]
    views: list[str]
    request: array[float]
    commit: array[float]
    unmatched: int


class Fleet:
    def __init__(
        self,
        boards: BoardSet,
        workdir: Path,
        *,
        name: str,
        processes: int = 2,
        concurrency: int = 32,
    ) -> None:
        self.workdir = workdir
        self.views = boards.views
        self.processes: list[subprocess.Popen[str]] = []
        self.sample_paths: list[Path] = []
        rows = [[s.url, s.key, s.cookie, s.view, s.family] for s in boards.sockets]
        shares = [rows[i::processes] for i in range(processes)]
        for i, share in enumerate(s for s in shares if s):
            samples = workdir / f"{name}-boards-{i}.bin"
            config = {
                "sockets": share,
                "views": self.views,
                "origin": boards.origin,
                "expect_snapshot": boards.expect_snapshot,
                "concurrency": concurrency,
                "samples": str(samples),
            }
            path = workdir / f"{name}-boards-{i}.json"
            path.write_text(json.dumps(config))
            self.sample_paths.append(samples)
            log = (workdir / f"{name}-boards-{i}.log").open("w")
            self.processes.append(
                subprocess.Popen(
                    [str(PYTHON), "-m", "bench.boards", str(path)],
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            )

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def _ask(self, process: subprocess.Popen[str], command: str | None) -> dict[str, Any]:
        assert process.stdin is not None and process.stdout is not None
        if command is not None:
            process.stdin.write(command + "\n")
            process.stdin.flush()
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"a board process ended (exit {process.wait()}); see its log")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def wait_ready(self) -> dict[str, Any]:
        """Blocks until every process has opened its sockets."""
        answers = [self._ask(p, None) for p in self.processes]
        errors: Counter[str] = Counter()
        for answer in answers:
            errors.update(answer["errors"])
        return {
            "ready": sum(a["ready"] for a in answers),
            "failed": sum(a["failed"] for a in answers),
            "families": sum(a["families"] for a in answers),
            "families_failed": sum(a["families_failed"] for a in answers),
            "errors": dict(errors.most_common(5)),
            "connect_s": max(a["connect_s"] for a in answers),
        }

    def received(self) -> int:
        """Deliveries to boards so far (family pages not counted)."""
        return sum(self._ask(p, "count")["received"] for p in self.processes)

    def stop(
        self,
        sends: dict[str, list[tuple[int, float]]] | None = None,
        window: tuple[float, float] = (0.0, 0.0),
    ) -> Stopped:
        """Close every socket. With `sends` (per installation key, (seq, send instant) of the
        calls that made events), the boards time each delivery from its request's send and
        from its commit, keeping those of the steady `window`."""
        command = "stop"
        if sends is not None:
            path = self.workdir / "sends.json"
            path.write_text(json.dumps({"window": list(window), "sends": sends}))
            command = f"stop {path}"
        summaries: list[dict[str, Any]] = []
        unmatched = 0
        for process in self.processes:  # all at once: they close and time side by side
            assert process.stdin is not None
            process.stdin.write(command + "\n")
            process.stdin.flush()
        for process in self.processes:
            answer = self._ask(process, None)
            summaries += answer["sockets"]
            unmatched += answer["unmatched"]
        for process in self.processes:
            process.wait(30)
        request, commit = array("d"), array("d")
        for path in self.sample_paths:
            for samples, suffix in ((request, "request"), (commit, "commit")):
                part = Path(f"{path}.{suffix}")
                if part.exists():
                    samples.frombytes(part.read_bytes())
                    part.unlink()
        return Stopped(summaries, self.views, request, commit, unmatched)

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
