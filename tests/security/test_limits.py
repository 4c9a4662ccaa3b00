"""What a request may carry, and what the server says about itself.

Body size is checked before reading (a declared length, then as the body arrives), JSON
nesting before parsing, form fields and files as the form is parsed; ids too large for the
database are 404 like unknown ones, on every route that takes one (enumerated from the app's
routes); TRACE is 405 with Allow; static files are nosniff; /healthz and /dev/outbox tell
strangers nothing.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.core.clock import ManualClock
from server.core.settings import Settings
from tests.helpers import API_TOKEN, another_browser, api_headers, app_routes, sign_in_as
from tests.security.conftest import SAME_SITE, csrf_headers

MB = 1024 * 1024
MAX_JSON_DEPTH = 32  # server.web.limits
# Too large for SQLite's 64 bits; too large for PostgreSQL's 32; not a number; negative.
BAD_IDS = ("99999999999999999999", "3000000000", "-1", "abc")


# -- body size, before reading -----------------------------------------------------------------


@dataclasses.dataclass
class Sent:
    status: int
    body: bytes
    chunks_read: int


def call_asgi(
    client: TestClient,
    path: str,
    headers: dict[str, str],
    chunks: Iterator[bytes],
    method: str = "POST",
) -> Sent:
    """One request straight into the app, its body handed over chunk by chunk on demand:
    how much of it the app asked for is counted."""
    read = 0
    started: dict[str, Any] = {}
    body = bytearray()

    async def receive() -> dict[str, Any]:
        nonlocal read
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.9", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    app: Any = client.app
    assert client.portal is not None  # inside the client's `with`: the app's own loop
    client.portal.call(app, scope, receive, send)
    return Sent(int(started["status"]), bytes(body), read)


def endless(size: int = 64 * 1024) -> Iterator[bytes]:
    """A body that never ends (200 MB and more), made on demand."""
    while True:
        yield b"x" * size


def test_an_anonymous_upload_without_a_csrf_cookie_is_refused_before_a_byte_is_read(
    client: TestClient,
) -> None:
    headers = {
        "host": "testserver",
        "content-type": "multipart/form-data; boundary=xyz",
        "content-length": str(200 * MB),
    }
    sent = call_asgi(client, "/login", headers, endless())
    assert sent.status in {403, 413}
    assert sent.chunks_read == 0


def test_a_declared_length_above_the_limit_is_refused_before_reading(client: TestClient) -> None:
    client.get("/login")
    cookie = f"relais_csrf={client.cookies.get('relais_csrf')}"
    for path, limit in (("/login", "64"), ("/admin/roster/preview", "20")):
        headers = {
            "host": "testserver",
            "cookie": cookie,
            "content-type": "multipart/form-data; boundary=xyz",
            "content-length": str(200 * MB),
        }
        sent = call_asgi(client, path, headers, endless())
        if path == "/login":
            assert sent.status == 413
            assert limit.encode() in sent.body
        else:
            assert sent.status in {303, 413}  # the roster page wants a director first
        assert sent.chunks_read == 0


def test_a_body_that_grows_past_the_limit_is_cut_off_as_it_arrives(client: TestClient) -> None:
    client.get("/login")
    headers = {
        "host": "testserver",
        "cookie": f"relais_csrf={client.cookies.get('relais_csrf')}",
        "content-type": "application/x-www-form-urlencoded",
        "x-csrf-token": client.cookies.get("relais_csrf") or "",
    }
    sent = call_asgi(client, "/login", headers, endless(16 * 1024))  # no Content-Length
    assert sent.status == 413
    assert sent.chunks_read <= 5  # 64 KB and one chunk more, not 200 MB


def test_the_api_refuses_a_large_body_in_json(client: TestClient) -> None:
    big = {"child_id": "C-LEA", "guardian_id": "G-TREMBLAY", "mode": "eta", "eta": "x" * 70_000}
    answer = client.post("/api/v1/pickups", headers=api_headers(), json=big)
    assert answer.status_code == 413
    assert "64 KB" in answer.json()["detail"]
    roster = client.put(
        "/api/v1/roster",
        headers={**api_headers(), "content-length": str(21 * MB)},
        content=b"{}",
    )
    assert roster.status_code == 413
    assert roster.json()["detail"]


# -- forms: fields, files ------------------------------------------------------------------------


def test_a_form_with_too_many_fields_or_a_file_where_none_belongs_is_413(
    client: TestClient,
) -> None:
    client.get("/login")
    headers = csrf_headers(client)
    many = {f"field{n}": "x" for n in range(150)}
    answer = client.post("/login", data=many, headers=headers)
    assert answer.status_code == 413
    assert "trop de champs" in answer.text
    with_file = client.post(
        "/login",
        data={"email": "a@example.org"},
        files={"password": ("secret.txt", b"hunter2", "text/plain")},
        headers=headers,
    )
    assert with_file.status_code == 413


# -- JSON nesting ----------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/pickups"), ("PUT", "/api/v1/roster"), ("POST", "/api/v1/attendance")],
)
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_deeply_nested_json_is_422_before_parsing(
    client: TestClient, method: str, path: str, content_type: str
) -> None:
    for body in (
        nested(30_000),  # 60 KB: within the size limit
        b'{"installations": [' + nested(5_000) + b'], "guardians": [], "children": []}',
        b'{"child_id": "C-LEA", "mode": "eta", "eta": ' + b'{"a": ' * 2_000 + b"1" + b"}" * 2_001,
    ):
        answer = client.request(
            method, path, headers={**api_headers(), "content-type": content_type}, content=body
        )
        assert answer.status_code == 422, answer.text[:300]
        assert f"{MAX_JSON_DEPTH}" in answer.json()["detail"]


def test_brackets_inside_strings_do_not_count_as_nesting(client: TestClient) -> None:
    answer = client.post(
        "/api/v1/attendance",
        headers=api_headers(),
        json={"child_id": "[" * 90 + "{" * 9, "present": True},
    )
    assert answer.status_code == 404  # an unknown child, not a nesting refusal


# -- ids the database cannot hold: 404 like unknown ones, on every route ----------------------


# Every route with a path parameter, each method but HEAD.
ID_ROUTES = [
    (method, path)
    for own, path, methods in app_routes()
    if "{" in own
    for method in sorted(methods - {"HEAD"})
]
# Path parameters that are ids; the others get a plausible value.
NOT_IDS: dict[str, str] = {"kind": "child"}


def fill(path: str, bad: str) -> str | None:
    names = re.findall(r"\{([^}:]+)", path)
    if "token" in names:
        return None  # a link's secret, not an id (its own tests: unknown links are 404)
    value = path
    for name in names:
        value = value.replace(f"{{{name}}}", NOT_IDS.get(name) or bad)
    return value


@pytest.mark.parametrize(("method", "path"), ID_ROUTES)
def test_ids_out_of_range_are_not_found_like_unknown_ones(
    everyone: TestClient, method: str, path: str
) -> None:
    for bad in BAD_IDS:
        target = fill(path, bad)
        if target is None:
            continue
        if path.startswith("/api/"):
            body = {"status": "called"} if "status" in path else {"group_id": "ERA-EXP"}
            answer = everyone.request(method, target, headers=api_headers(), json=body)
        else:
            # A valid form otherwise: what refuses is the id.
            form = {"from": "announced", "to": "called", "group_id": "1", "in_minutes": "10"}
            answer = everyone.request(
                method, target, headers=csrf_headers(everyone), data=form, follow_redirects=False
            )
        assert answer.status_code == 404, (target, answer.status_code, answer.text[:300])


def test_every_route_with_an_id_is_covered() -> None:
    assert ("POST", "/api/v1/pickups/{pickup_id}/status") in ID_ROUTES
    assert ("POST", "/board/pickups/{pickup_id}/status") in ID_ROUTES
    assert ("GET", "/photos/{kind}/{target_id}") in ID_ROUTES
    assert len(ID_ROUTES) > 25


@pytest.mark.parametrize("bad", BAD_IDS)
def test_ids_out_of_range_in_queries_and_forms_are_refused_in_plain_words(
    everyone: TestClient, bad: str
) -> None:
    assert everyone.get(f"/board?installation={bad}").status_code == 404
    for page in (f"/admin/log?installation_id={bad}", f"/admin/log?group_id={bad}"):
        assert everyone.get(page).status_code == 400
    assert everyone.get(f"/admin/reports?installation={bad}").status_code == 400
    assert everyone.get(f"/admin/staff?invited={bad}").status_code == 200
    assert everyone.get(f"/portal/students?wait={bad}").status_code == 200
    display = everyone.post(
        "/admin/displays",
        data={"name": "Hall", "installation_id": bad, "group_id": bad},
        headers=csrf_headers(everyone),
    )
    assert display.status_code == 400
    moved = everyone.post(
        "/board/children/1/group", data={"group_id": bad}, headers=csrf_headers(everyone)
    )
    assert moved.status_code == 404
    with (
        pytest.raises(WebSocketDisconnect),
        everyone.websocket_connect(f"/board/ws?installation={bad}", headers=SAME_SITE),
    ):
        pass


# -- what the server says of itself ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/login", "GET, HEAD, POST"),
        ("/api/v1/pickups", "GET, HEAD, POST"),
        ("/api/v1/roster", "PUT"),
        ("/healthz", "GET, HEAD"),
        ("/static/css/relais.css", "GET, HEAD"),
    ],
)
def test_trace_is_405_with_allow(client: TestClient, path: str, allowed: str) -> None:
    answer = client.request("TRACE", path, headers=api_headers())
    assert answer.status_code == 405
    assert answer.headers["allow"] == allowed
    assert "TRACE" not in answer.text


@pytest.mark.parametrize(
    "path", ["/static/css/relais.css", "/static/js/board.js", "/static/vendor/htmx.min.js"]
)
def test_static_files_are_nosniff(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_healthz_tells_strangers_only_the_status(settings: Settings, clock: ManualClock) -> None:
    app = create_app(
        dataclasses.replace(settings, metrics_token="monitoring-secret"),
        clock=clock,
        background=False,
    )
    with TestClient(app, client=("203.0.113.7", 4000)) as stranger:
        assert stranger.get("/healthz").json() == {"status": "ok"}
        wrong = stranger.get("/healthz", headers={"Authorization": "Bearer guess"})
        assert wrong.json() == {"status": "ok"}
        details = stranger.get(
            "/healthz", headers={"Authorization": "Bearer monitoring-secret"}
        ).json()
        assert set(details) == {"status", "database", "realtime", "boards", "worker"}
    for loopback in ("127.0.0.1", "::1"):
        with TestClient(app, client=(loopback, 4000)) as local:
            assert "worker" in local.get("/healthz").json()


def test_the_demo_outbox_is_the_signed_in_directors_only(
    settings: Settings, clock: ManualClock, database_url: str
) -> None:
    demo = create_app(dataclasses.replace(settings, demo=True), clock=clock, background=False)
    with TestClient(demo) as browser:
        anonymous = browser.get("/dev/outbox", follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/login")
        sign_in_as(browser, database_url, "reception", "accueil@example.org")
        assert browser.get("/dev/outbox").status_code == 403
        parent = another_browser(browser)
        sign_in_as(parent, database_url, "parent", "parent@example.org")
        assert parent.get("/dev/outbox", follow_redirects=False).status_code == 303
        sign_in_as(browser, database_url, "admin", "direction@example.org")
        assert browser.get("/dev/outbox").status_code == 200
    production = create_app(settings, clock=clock, background=False)
    with TestClient(production) as director:
        sign_in_as(director, database_url, "admin", "direction@example.org")
        assert director.get("/dev/outbox").status_code == 404


def test_the_api_answers_errors_in_json_with_the_declared_shape(client: TestClient) -> None:
    for answer in (
        client.request("TRACE", "/api/v1/installations", headers=api_headers()),
        client.post("/api/v1/pickups/1/status", headers=api_headers(), content=nested(99)),
        client.get("/api/v1/installations"),
    ):
        body = json.loads(answer.text)
        assert isinstance(body["detail"], str) and body["detail"]
    assert API_TOKEN
