"""The floor (scenario c): the least a Python server does for the same fan-out.

A raw `websockets` server holds the boards (`/ws/<installation>/`) and, for each announcement,
stamps `at` and hands the same bytes to every board of the installation with
`websockets.broadcast`: no database, no rendering, no per-socket queue.

Announcements come over HTTP (`POST /announce/<installation>/`, the body
{"seq", "chime", "content"}, as the Channels peer takes them). websockets' HTTP parser accepts
no request body, so they arrive on a second port, HTTP_PORT, served by a few lines of asyncio
in the same process and event loop. `GET /healthz/` answers there.

    python -m bench.floor_server --port 9000 --http-port 9001
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import time

from websockets.asyncio.server import ServerConnection, broadcast, serve

from . import loop

# Both forms, with and without the trailing slash, so one load generator serves floor and peer.
BOARD_PATH = re.compile(r"^/ws/([^/?]+)/?(\?.*)?$")
ANNOUNCE_PATH = re.compile(r"^/announce/([^/?]+)/?$")
HEALTH_PATH = re.compile(r"^/healthz/?$")


class Floor:
    def __init__(self) -> None:
        self.boards: dict[str, set[ServerConnection]] = {}

    async def board(self, websocket: ServerConnection) -> None:
        match = BOARD_PATH.match(websocket.request.path if websocket.request else "")
        if match is None:
            await websocket.close(1008)
            return
        watching = self.boards.setdefault(match[1], set())
        watching.add(websocket)
        try:
            async for _message in websocket:  # boards say nothing; read to see the close
                pass
        finally:
            watching.discard(websocket)

    def announce(self, installation: str, body: bytes) -> None:
        data = json.loads(body)
        # Stamped on arrival, as Relais stamps its commit: the same clock starts both.
        message = json.dumps(
            {
                "seq": data["seq"],
                "at": time.time(),
                "chime": bool(data.get("chime", False)),
                "content": data["content"],
            },
            ensure_ascii=False,
        )
        broadcast(self.boards.get(installation, set()), message)

    async def http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """A keep-alive HTTP/1.1 connection of the announcer: POST /announce, GET /healthz."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, path, _version = request_line.split(" ", 2)
                length = 0
                for line in header_lines:
                    name, _sep, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                status = "404 Not Found"
                if method == "POST" and (match := ANNOUNCE_PATH.match(path)):
                    self.announce(match[1], body)
                    status = "200 OK"
                elif method == "GET" and HEALTH_PATH.match(path):
                    status = "200 OK"
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    "Content-Length: 2\r\n\r\n{}".encode()
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def main(port: int, http_port: int) -> None:
    floor = Floor()
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    # compression=None: Relais runs uvicorn with per-message deflate off; the same bytes here.
    async with (
        serve(floor.board, "127.0.0.1", port, compression=None, max_size=None),
        await asyncio.start_server(floor.http, "127.0.0.1", http_port),
    ):
        await stop


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args()
    loop.run(main(args.port, args.http_port))


if __name__ == "__main__":
    run()
