"""RELAIS_LOG_FORMAT=json: one JSON object per line, with the time, level, worker, request id,
route (the path's template), status and duration; no token of a path. (The scan of a whole
run's logs for the demo's names and emails: tests/e2e/test_behind_nginx.py.)"""

from __future__ import annotations

import io
import json
import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from server.core.logs import NoPathLines, log_format, logging_config
from tests.helpers import announce, api_headers

DISPLAY_TOKEN = "a-wall-screen-token-that-must-not-be-logged"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The process's logging as `relais serve` sets it up, written to a buffer."""
    config = logging_config("json")
    config["handlers"]["stderr"]["stream"] = io.StringIO()
    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    logging.config.dictConfig(config)
    yield root.handlers[-1].stream  # type: ignore[attr-defined]
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def parsed(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_each_request_is_one_json_line_without_the_paths_token(
    client: TestClient, json_lines: io.StringIO
) -> None:
    given = client.get(f"/display/{DISPLAY_TOKEN}", headers={"X-Request-ID": "proxy-id-0001"})
    assert given.headers["x-request-id"] == "proxy-id-0001"
    pickup = announce(client, mode="gps", latitude=46.8139, longitude=-71.2082)
    called = client.post(
        f"/api/v1/pickups/{pickup['id']}/status",
        headers={**api_headers(), "X-Request-ID": "no spaces allowed"},
        json={"status": "called"},
    )
    assert called.status_code == 200

    # The server's lines (the test's own HTTP client logs its URLs too).
    lines = [line for line in parsed(json_lines) if not line["logger"].startswith("httpx")]
    access = [line for line in lines if line["logger"] == "relais.access"]
    assert [(line["route"], line["status"]) for line in access] == [
        ("/display/{token}", given.status_code),
        ("/api/v1/pickups", 201),
        ("/api/v1/pickups/{pickup_id}/status", 200),
    ]
    for line in access:
        assert {"time", "level", "worker", "request_id", "method", "duration_ms"} <= set(line)
        assert isinstance(line["duration_ms"], float) and isinstance(line["worker"], int)
    assert access[0]["request_id"] == "proxy-id-0001"  # the proxy's, kept
    assert access[2]["request_id"] != "no spaces allowed"  # not a sane id: a new one
    assert DISPLAY_TOKEN not in json.dumps(lines)


def test_uvicorns_socket_lines_are_dropped_for_they_quote_the_path() -> None:
    line = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", f"/display/{DISPLAY_TOKEN}/ws"),
        None,
    )
    assert not NoPathLines().filter(line)
    started = logging.LogRecord(
        "uvicorn.error", logging.INFO, __file__, 1, "Started server process [%d]", (1,), None
    )
    assert NoPathLines().filter(started)


def test_the_format_is_text_or_json() -> None:
    assert log_format({}) == "text"
    assert log_format({"RELAIS_LOG_FORMAT": "json"}) == "json"
    with pytest.raises(ValueError, match="must be text or json"):
        log_format({"RELAIS_LOG_FORMAT": "yaml"})
