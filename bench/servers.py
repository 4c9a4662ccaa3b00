"""The servers under test, each started as a real subprocess in its own process group and
stopped by that group: Relais (`relais serve`), the floor, the Channels peer, and a private
Redis."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import free_port  # the one free-port probe, the tests' too

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
PEER_SCRIPT = ROOT / "bench" / "peer_channels" / "run.sh"


@dataclass
class Service:
    """A process the benchmark started, with its log."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM to the group (a supervisor and its workers), SIGKILL if it lingers."""
        with contextlib.suppress(ProcessLookupError):  # the whole group has already gone
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@dataclass
class Server(Service):
    ws_base: str  # ws://127.0.0.1:P, where boards connect
    http_base: str  # http://127.0.0.1:P, where announcements go


@dataclass
class Redis(Service):
    url: str


def _spawn(
    name: str, command: list[str], env: dict[str, str], workdir: Path
) -> tuple[subprocess.Popen[bytes], Path]:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:  # a file, not a pipe: a busy server never blocks on its log
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log


def wait_healthy(server: Server, path: str, timeout: float = 90.0) -> None:
    """Polls `path` until it answers 200; stops the server and raises if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited:\n{server.log_tail()}")
        try:
            if httpx.get(server.http_base + path, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.name} not healthy after {timeout:.0f} s:\n{server.log_tail()}")


def start_relais(
    name: str, database_url: str, workdir: Path, workers: int = 1, redis_url: str | None = None
) -> Server:
    """A production start: a secret key, no demo accounts (the seed has none), no RELAIS_DEMO."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env |= {
        "RELAIS_DATABASE_URL": database_url,
        "RELAIS_SECRET_KEY": secrets.token_urlsafe(48),
        "RELAIS_VAR_DIR": str(workdir / f"{name}-var"),
        "RELAIS_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    if redis_url:
        env["RELAIS_REDIS_URL"] = redis_url
    command = [str(ROOT / ".venv" / "bin" / "relais"), "serve", "--workers", str(workers)]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    process, log = _spawn(name, command, env, workdir)
    server = Server(name, process, log, f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}")
    wait_healthy(server, "/healthz")
    return server


def start_floor(workdir: Path) -> Server:
    port, http_port = free_port(), free_port()
    command = [str(PYTHON), "-m", "bench.floor_server", "--port", str(port)]
    command += ["--http-port", str(http_port)]
    process, log = _spawn("floor", command, dict(os.environ), workdir)
    server = Server(
        "floor", process, log, f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{http_port}"
    )
    wait_healthy(server, "/healthz/")
    return server


def peer_available() -> bool:
    return PEER_SCRIPT.exists()


def start_peer(workdir: Path, redis_url: str) -> Server:
    port = free_port()
    env = dict(os.environ) | {"REDIS_URL": redis_url}
    process, log = _spawn("peer", ["bash", str(PEER_SCRIPT), str(port)], env, workdir)
    server = Server("peer", process, log, f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}")
    wait_healthy(server, "/healthz/")
    return server


def start_redis(workdir: Path) -> Redis:
    """A private Redis: pub/sub channels are shared across a server's databases, so the
    shared one on 6379 could carry another program's events on Relais's channel names."""
    port = free_port()
    command = ["redis-server", "--bind", "127.0.0.1", "--port", str(port)]
    command += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    process, log = _spawn("redis", command, dict(os.environ), workdir)
    server = Redis("redis", process, log, f"redis://127.0.0.1:{port}/0")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"redis-server did not start:\n{server.log_tail()}")
