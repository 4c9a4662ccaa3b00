"""A throwaway redis-server for tests: started on a free port, killable and restartable, so
outage tests never touch the machine's shared Redis."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

STEP = 0.02  # polling step, seconds
TIMEOUT = 5.0  # upper bound of any wait


class RedisServer:
    """A throwaway redis-server process, killable and restartable on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        self._spawn()
        await self._wait_ready()

    def _spawn(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not on PATH: install Redis to run the Redis broker tests")
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def _wait_ready(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while loop.time() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited early with code {self.process.returncode}")
            client = Redis.from_url(self.url, socket_connect_timeout=0.2, socket_timeout=0.2)
            try:
                if await client.ping():
                    return
            except (RedisError, OSError):
                pass
            finally:
                await client.aclose()
            await asyncio.sleep(STEP)  # wait-ok
        pytest.fail(f"redis-server on port {self.port} did not answer PING in {TIMEOUT} s")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        self.process = None
