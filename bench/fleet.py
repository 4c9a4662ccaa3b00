"""A fleet of boards spread over a few load-generator processes (bench/boards.py), driven
over their stdin/stdout."""

from __future__ import annotations

import json
import subprocess
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

from .servers import PYTHON, ROOT


class Fleet:
    def __init__(
        self,
        boards: list[tuple[str, str]],
        workdir: Path,
        *,
        name: str,
        origin: str | None = None,
        cookies: dict[str, str] | None = None,
        expect_snapshot: bool = False,
        processes: int = 2,
        concurrency: int = 32,
    ) -> None:
        self.workdir = workdir
        self.processes: list[subprocess.Popen[str]] = []
        self.sample_paths: list[Path] = []
        cookies = cookies or {}
        triples = [(url, key, cookies.get(key)) for url, key in boards]
        shares = [triples[i::processes] for i in range(processes)]
        for i, share in enumerate(s for s in shares if s):
            samples = workdir / f"{name}-boards-{i}.bin"
            config = {
                "boards": share,
                "origin": origin,
                "expect_snapshot": expect_snapshot,
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
        """Blocks until every process has opened its boards."""
        answers = [self._ask(p, None) for p in self.processes]
        errors: Counter[str] = Counter()
        for answer in answers:
            errors.update(answer["errors"])
        return {
            "ready": sum(a["ready"] for a in answers),
            "failed": sum(a["failed"] for a in answers),
            "errors": dict(errors.most_common(5)),
            "connect_s": max(a["connect_s"] for a in answers),
        }

    def received(self) -> int:
        return sum(self._ask(p, "count")["received"] for p in self.processes)

    def stop(self) -> tuple[list[list[Any]], array[float]]:
        """Close every board; per-board summaries and the (at, latency ms) samples."""
        summaries: list[list[Any]] = []
        for process in self.processes:
            summaries += self._ask(process, "stop")["boards"]
        for process in self.processes:
            process.wait(30)
        samples = array("d")
        for path in self.sample_paths:
            samples.frombytes(path.read_bytes())
            path.unlink()
        return summaries, samples

    def kill(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
