"""Relais in production's shape: Debian's nginx with a self-signed certificate, configured
with docs/deploy.md's own configuration, in front of `relais serve --workers 2` (Redis, and
PostgreSQL in the PostgreSQL run), logging JSON.

It proves what the deployment guide promises: signing in over https:// sets Secure cookies;
a board over wss:// receives an alert announced through the API; a parent's page follows
over wss:// too; a worker killed behind the proxy costs no alert (its boards reconnect and
resync, and a new worker takes its place); /metrics is a 404 through the proxy without the
token and every worker's figures with it; and the whole run's logs are JSON lines without
the demo's names, emails, positions or tokens."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.e2e.conftest import ServeProcess, relais_serve
from tests.helpers import API_TOKEN, PASSWORD, free_port, in_db, stop_process
from tests.redis_server import RedisServer

NGINX = shutil.which("nginx") or next(
    (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None
)
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        NGINX is None,
        reason="Debian's nginx is not installed (apt-get install nginx; `make test` installs "
        "it as root): the TLS proxy test cannot run",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "metrics-token-behind-nginx"
AT_THE_DOOR: dict[str, Any] = {"mode": "gps", "latitude": 46.8139, "longitude": -71.2082}


def outside_address() -> str | None:
    """This machine's address on a network other than loopback, if it has one: a visitor
    from there is a stranger to Relais (no route needed: a UDP "connect" sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


OUTSIDE = outside_address()


def documented_site() -> str:
    """The nginx configuration docs/deploy.md gives, as written."""
    guide = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    blocks: list[str] = re.findall(r"```nginx\n(.*?)```", guide, re.DOTALL)
    assert len(blocks) == 1, "docs/deploy.md gives one nginx configuration"
    return blocks[0]


def placed(site: str, replacements: dict[str, str]) -> str:
    """The documented site with this machine's ports and files in place of the example's."""
    for example, here in replacements.items():
        assert example in site, f"docs/deploy.md's nginx configuration no longer has {example!r}"
        site = site.replace(example, here)
    return site


@dataclass
class Proxy:
    url: str  # https://localhost:PORT
    certificate: Path
    access_log: Path

    def trusting(self) -> ssl.SSLContext:
        """TLS that trusts the proxy's self-signed certificate (and checks it)."""
        return ssl.create_default_context(cafile=str(self.certificate))


@pytest.fixture
def https_port() -> int:
    return free_port()


@pytest.fixture
def relais_json(
    empty_database_url: str, redis_server: RedisServer, tmp_path: Path, https_port: int
) -> Iterator[ServeProcess]:
    with relais_serve(
        empty_database_url,
        redis_server.url,
        tmp_path,
        RELAIS_LOG_FORMAT="json",
        RELAIS_METRICS_TOKEN=METRICS_TOKEN,
        RELAIS_PUBLIC_URL=f"https://localhost:{https_port}",  # the proxy's address
    ) as served:
        yield served


@pytest.fixture
def proxy(relais_json: ServeProcess, tmp_path: Path, https_port: int) -> Iterator[Proxy]:
    assert NGINX is not None
    here = tmp_path / "nginx"
    here.mkdir()
    cert, key = here / "cert.pem", here / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", f"subjectAltName=DNS:localhost{f',IP:{OUTSIDE}' if OUTSIDE else ''}"),
        ],
        check=True,
        capture_output=True,
    )
    http_port = free_port()
    relais_port = relais_json.url.rsplit(":", 1)[1]
    site = placed(
        documented_site(),
        {
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            # Every address: a visitor from another network comes in on OUTSIDE.
            "listen 443 ssl http2;": f"listen {https_port} ssl http2;",
            "server 127.0.0.1:8000;": f"server 127.0.0.1:{relais_port};",
            "/etc/letsencrypt/live/relais.example.org/fullchain.pem": str(cert),
            "/etc/letsencrypt/live/relais.example.org/privkey.pem": str(key),
            "/var/log/nginx/relais.access.log": str(here / "access.log"),
        },
    )
    temp = " ".join(
        f"{kind}_temp_path {here / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    (here / "nginx.conf").write_text(
        f"{'user root;' if os.geteuid() == 0 else ''}\n"
        f"daemon off;\nworker_processes 1;\npid {here / 'nginx.pid'};\n"
        f"error_log {here / 'error.log'} warn;\n"
        "events { worker_connections 1024; }\n"
        f"http {{\n{temp} uwsgi_temp_path {here / 'uwsgi'}; scgi_temp_path {here / 'scgi'};\n"
        f"{site}\n}}\n"
    )
    nginx = subprocess.Popen(
        [NGINX, "-p", str(here), "-c", str(here / "nginx.conf"), "-e", str(here / "error.log")]
    )
    url = f"https://localhost:{https_port}"
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        for _attempt in range(100):
            if nginx.poll() is not None:
                pytest.fail(f"nginx exited: {(here / 'error.log').read_text()}")
            try:
                httpx.get(f"{url}/healthz", verify=trusted, timeout=0.5)
                break
            except httpx.TransportError:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    nginx.wait(0.05)  # not listening yet: wait on the process, not a sleep
        else:
            pytest.fail("nginx did not answer")
        yield Proxy(url, cert, here / "access.log")
    finally:
        stop_process(nginx, signal.SIGQUIT, 10)  # SIGQUIT: nginx's graceful stop


def api(proxy: Proxy, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """An integration's call through the proxy. A call in flight to a worker that was just
    killed gets a 502 from nginx (a POST is not retried for it): an integration retries."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with httpx.Client(base_url=proxy.url, verify=proxy.trusting(), headers=headers) as web:
        for _attempt in range(5):
            answer = web.request(method, "/api/v1" + path, **kwargs)
            if answer.status_code != 502:
                return answer
        return answer


def announce(proxy: Proxy, child: str, guardian: str) -> int:
    answer = api(
        proxy,
        "POST",
        "/pickups",
        json={"child_id": child, "guardian_id": guardian, **AT_THE_DOOR},
    )
    assert answer.status_code == 201, answer.text
    pickup_id: int = answer.json()["id"]
    return pickup_id


def board_sockets_by_worker(served: ServeProcess) -> dict[int, float]:
    """From /metrics on loopback (straight to Relais): open boards per worker pid."""
    exposition = httpx.get(f"{served.url}/metrics").text
    return {
        int(sample.labels["pid"]): sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name == "relais_connected_sockets"
        for sample in family.samples
        if sample.labels.get("kind") == "board"
    }


def sign_in(page: Page, proxy: Proxy, path: str, email: str) -> None:
    page.goto(f"{proxy.url}{path}")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#conn")).to_have_class("conn conn--live")


def personal_data(database_url: str) -> set[str]:
    """Every name and email the demo holds."""

    async def read(session: AsyncSession) -> set[str]:
        found: set[str] = set()
        for query in (
            "SELECT first_name, last_name FROM child",
            "SELECT first_name, last_name, email FROM guardian",
            "SELECT display_name, email FROM staff_user",
            "SELECT email FROM center_account",
        ):
            for row in (await session.execute(text(query))).all():
                found.update(str(value) for value in row if value)
                if "first_name" in query:
                    found.add(f"{row[0]} {row[1]}")
        return found

    return in_db(database_url, read)


def test_behind_nginx_with_tls(
    proxy: Proxy, relais_json: ServeProcess, browser: Browser, empty_database_url: str
) -> None:
    # Sign-in over https://: every cookie the browser keeps is Secure (and HttpOnly).
    context = browser.new_context(ignore_https_errors=True, locale="fr-CA")
    board = context.new_page()
    with board.expect_websocket() as opened:
        sign_in(board, proxy, "/login?next=/board", "accueil@example.org")
    assert opened.value.url.startswith(f"wss://localhost:{proxy.url.rsplit(':', 1)[1]}/board/ws")
    cookies = context.cookies()
    assert {c["name"] for c in cookies} >= {"relais_session", "relais_csrf"}
    assert all(c["secure"] for c in cookies), [(c["name"], c["secure"]) for c in cookies]

    # A parent's page follows its children over wss:// too.
    phone_context = browser.new_context(ignore_https_errors=True, locale="fr-CA")
    phone = phone_context.new_page()
    with phone.expect_websocket() as family:
        sign_in(phone, proxy, "/parent/login", "parent@example.org")
    assert family.value.url.endswith("/parent/ws")

    # An alert announced through the API reaches the board over wss:// (and the parent).
    with family.value.expect_event("framereceived"):
        lea = announce(proxy, "C-LEA", "G-TREMBLAY")
    expect(board.locator(f"#pickup-{lea}")).to_contain_text("Léa")

    # The worker holding the board is killed: the board reconnects through nginx, an alert
    # made meanwhile is on it after its resync, and a new worker takes the dead one's place.
    holders = {pid for pid, count in board_sockets_by_worker(relais_json).items() if count}
    assert len(holders) == 1, holders
    (killed,) = holders
    os.kill(killed, signal.SIGKILL)
    noah = announce(proxy, "C-NOAH", "G-TREMBLAY")
    expect(board.locator(f"#pickup-{noah}")).to_contain_text("Noah", timeout=15000)
    expect(board.locator("#conn")).to_have_class("conn conn--live")
    # A new worker takes a few seconds to start (longer on a loaded machine): ask until both
    # live workers have answered, for a minute at most.
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers - {killed}) < 2 and time.monotonic() < deadline:
        with httpx.Client() as fresh:  # a new connection each time: any worker may answer
            workers.add(fresh.get(f"{relais_json.url}/healthz").json()["worker"])
    assert len(workers - {killed}) == 2, "no worker took the killed one's place"
    assert killed not in board_sockets_by_worker(relais_json)  # its gauges went with it

    # After the restart, the fan-out between workers is whole again.
    ready = api(proxy, "POST", f"/pickups/{lea}/status", json={"status": "called"})
    assert ready.status_code == 200, ready.text
    expect(board.locator(f"#pickup-{lea}")).to_have_attribute("data-status", "called")

    # /metrics through the proxy with the token: every worker's figures.
    with httpx.Client(base_url=proxy.url, verify=proxy.trusting()) as monitoring:
        scraped = monitoring.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
    published = families["relais_events_published"].samples
    assert sum(s.value for s in published if s.name.endswith("_total")) >= 3
    pids = {s.labels["pid"] for s in families["relais_up"].samples}
    assert len(pids) >= 2, "each worker's figures, whichever worker answered"
    secrets = {c["value"] for c in [*cookies, *phone_context.cookies()]}
    context.close()
    phone_context.close()

    # The whole run's logs: JSON lines, with request ids and routes, and nothing personal. A
    # socket's access line is written when the server sees it close, which can come a moment
    # after the browser closed it: the file is read again until that line is there (5 s at most).
    deadline = time.monotonic() + 5
    while True:
        lines = relais_json.stderr.read_text(encoding="utf-8").splitlines()
        entries = [json.loads(line) for line in lines]  # each one a JSON object
        seen = {e.get("route") for e in entries if e.get("logger") == "relais.access"}
        if "/parent/ws" in seen or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # wait-ok: a log file has nothing to await
    assert all({"time", "level", "worker", "message"} <= set(e) for e in entries)
    access = [e for e in entries if e["logger"] == "relais.access"]
    assert {"/login", "/board/ws", "/parent/ws", "/api/v1/pickups"} <= {e["route"] for e in access}
    assert all({"request_id", "route", "status", "duration_ms"} <= set(e) for e in access)
    logged = "\n".join([*lines, proxy.access_log.read_text(encoding="utf-8")])
    forbidden = personal_data(empty_database_url) | secrets | {API_TOKEN, "46.8139", "71.2082"}
    assert len(forbidden) > 100
    leaked = sorted(w for w in forbidden if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", logged))
    assert not leaked, f"personal data or secrets in the logs: {leaked}"


@pytest.mark.skipif(OUTSIDE is None, reason="this machine has no address besides loopback")
def test_through_the_proxy_metrics_are_for_the_token_only(proxy: Proxy) -> None:
    """A visitor from another network is not loopback to Relais (nginx passes their
    address, and a forged X-Forwarded-For changes nothing): /metrics is a 404 to them, and
    /healthz gives them only the status."""
    port = proxy.url.rsplit(":", 1)[1]
    with httpx.Client(base_url=f"https://{OUTSIDE}:{port}", verify=proxy.trusting()) as visitor:
        assert visitor.get("/metrics").status_code == 404
        forged = visitor.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"})
        assert forged.status_code == 404
        assert visitor.get("/healthz").json() == {"status": "ok"}
        wrong = visitor.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 404
        token = visitor.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert token.status_code == 200
        assert "relais_connected_sockets" in token.text
