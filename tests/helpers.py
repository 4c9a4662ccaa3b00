"""What the tests share, in one place: the fixed moment and the demo's secrets, running work on
the test database, acting as a browser (sign-in, CSRF), a parent's announcement through the
API, a free port and a real server in a thread, and a second organization ("Bêta") built with
the server's own builder (server/demo.py)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import anyio
import httpx
import uvicorn
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col
from starlette.routing import BaseRoute, Mount, Route
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from server import demo
from server.app import create_app
from server.core.db import Database
from server.core.models import (
    CenterAccount,
    Child,
    Group,
    Guardian,
    Installation,
    Organization,
    Role,
    StaffUser,
)
from server.core.security import hash_password
from server.core.settings import Settings
from server.pickups.board import AlertItem, BoardState, GroupSection
from server.pickups.rules import AnnounceFacts

QUEBEC = ZoneInfo("America/Toronto")
# A Tuesday afternoon in Québec: the moment every test starts at.
T0 = datetime(2026, 11, 24, 16, 0, tzinfo=QUEBEC)
T = TypeVar("T")
Row = TypeVar("Row", bound=SQLModel)
PASSWORD = demo.DEMO_PASSWORD
API_TOKEN = demo.DEMO_API_TOKEN
SESSION_COOKIE, PARENT_COOKIE, PORTAL_COOKIE = "relais_session", "relais_parent", "relais_portal"
ORIGIN = {"origin": "http://testserver"}  # a same-origin page opening a socket
ERABLES = (46.8139, -71.2082)  # Pavillon des Érables: a GPS pickup here is at the door


# -- the test database -----------------------------------------------------------------------


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a fresh loop in its own thread: safe even while
    Playwright's synchronous API keeps a loop running in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()  # type: ignore[arg-type]


def in_db(database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in one committed session on the test database (its own engine and loop):
    how a test sets up or inspects what the app cannot be asked for."""

    async def run() -> T:
        db = Database(database_url)
        try:
            async with db.session() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await db.dispose()

    return run_async(run)


def the_row(database_url: str, model: type[Row], **equal: Any) -> Row:
    """The one row of `model` whose columns have these values (fails unless exactly one)."""

    async def find(session: AsyncSession) -> Row:
        return (await session.scalars(select(model).filter_by(**equal))).one()

    return in_db(database_url, find)


def demo_ids(database_url: str) -> dict[str, int]:
    """Installation and group ids of the demo, by external id."""

    async def work(session: AsyncSession) -> dict[str, int]:
        found: dict[str, int] = {}
        for inst in (await session.execute(select(Installation))).scalars():
            found[inst.external_id] = demo.id_of(inst)
        for group in (await session.execute(select(Group))).scalars():
            found[group.external_id] = demo.id_of(group)
        return found

    return in_db(database_url, work)


def organization_id(database_url: str) -> int:
    """The id of the one organization in the database."""

    async def work(session: AsyncSession) -> int:
        return demo.id_of((await session.execute(select(Organization))).scalar_one())

    return in_db(database_url, work)


def set_call_window(database_url: str, start: time, end: time, installation: str = "ERA") -> None:
    """`installation`'s call window (announcements outside it are refused), written straight
    into the database through the model (its Time columns bind alike on every engine)."""

    async def change(session: AsyncSession) -> None:
        inst = (
            await session.scalars(
                select(Installation).where(col(Installation.external_id) == installation)
            )
        ).one()
        inst.call_window_start, inst.call_window_end = start, end
        session.add(inst)

    in_db(database_url, change)


# -- a browser -------------------------------------------------------------------------------


def another_browser(client: TestClient) -> TestClient:
    """A second browser (its own cookies) on the same running app. It shares the first
    client's event loop: pooled database connections (asyncpg) belong to one loop."""
    other = TestClient(client.app, base_url=str(client.base_url))
    other.portal = client.portal
    return other


def submit(
    client: TestClient, path: str, fields: dict[str, Any] | None = None, **options: Any
) -> Any:
    """A form posted as a browser posts it: its `fields` and the CSRF token field (`options`:
    files, follow_redirects…); the answer."""
    data = {**(fields or {}), "csrf_token": csrf(client)["X-CSRF-Token"]}
    return client.post(path, data=data, **options)


def sign_in_form(
    client: TestClient, page: str, email: str, password: str = PASSWORD, **fields: str
) -> Any:
    """A sign-in form (`page`: /login, /parent/login, /portal/login) as a browser fills it:
    fetched (its CSRF cookie), then posted; the answer, not followed."""
    assert client.get(page).status_code == 200
    typed = {"email": email, "password": password, **fields}
    return submit(client, page, typed, follow_redirects=False)


def parent_login(
    client: TestClient, email: str = demo.DEMO_PARENT_EMAIL, password: str = PASSWORD
) -> None:
    """Sign in to the parent pages (Julie Tremblay by default): sent on to /parent."""
    response = sign_in_form(client, "/parent/login", email, password)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/parent"


def portal_login(
    client: TestClient, email: str = demo.DEMO_CENTER_EMAIL, password: str = PASSWORD
) -> int:
    """Sign in to the centre portal (Pavillon des Érables' account by default): the answer's
    status."""
    status: int = sign_in_form(client, "/portal/login", email, password).status_code
    return status


def login(client: TestClient, email: str, password: str = PASSWORD, next: str = "/board") -> Any:
    """Sign in to the staff pages as a browser would (`next`: where the form says to go
    after); the answer, a redirect."""
    response = sign_in_form(client, "/login", email, password, next=next)
    assert response.status_code == 303, response.text
    return response


def page_text(client: TestClient, path: str) -> str:
    """The page at `path`, which must answer 200: its text."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    text: str = page.text
    return text


def csrf(client: TestClient) -> dict[str, str]:
    """The header htmx sends with every board button press."""
    if client.cookies.get("relais_csrf") is None:
        client.get("/login")
    return {"X-CSRF-Token": client.cookies.get("relais_csrf") or ""}


# Who signs in with a session of each kind (any other kind: a staff account).
ACCOUNTS: dict[str, tuple[demo.SessionKind, type[StaffUser | Guardian | CenterAccount]]] = {
    "parent": ("parent", Guardian),
    "centre": ("centre", CenterAccount),
}


def sign_in_as(
    client: TestClient,
    database_url: str,
    kind: str,
    email: str,
    lifetime: timedelta = timedelta(days=1),
) -> TestClient:
    """A session for `email` (a "parent" or "centre" account, else staff: "admin",
    "reception"…), written straight into the database (no password hashing to wait for), its
    cookie given to `client`, and the page's CSRF cookie fetched."""
    session_kind, account = ACCOUNTS.get(kind, ("staff", StaffUser))

    async def create(session: AsyncSession) -> str:
        owner = (
            await session.execute(select(account).where(col(account.email) == email))
        ).scalar_one()
        (token,) = await demo.signed_in(session, session_kind, [demo.id_of(owner)], T0, lifetime)
        return token

    token = in_db(database_url, create)
    cookie = {"parent": PARENT_COOKIE, "centre": PORTAL_COOKIE}.get(kind, SESSION_COOKIE)
    client.cookies.set(cookie, token)
    client.get("/login")  # the CSRF cookie bound to the new sign-in
    return client


# -- a board's socket ------------------------------------------------------------------------


def receive(ws: WebSocketTestSession, timeout: float = 5.0) -> dict[str, Any]:
    """The next message, failing instead of hanging when none comes (a guard, not a wait:
    messages normally arrive in milliseconds)."""

    async def next_message() -> Any:
        with anyio.fail_after(timeout):
            return await ws._send_rx.receive()

    message = ws.portal.call(next_message)
    if message["type"] == "websocket.close":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason", ""))
    assert message["type"] == "websocket.send", message
    result: dict[str, Any] = json.loads(message["text"])
    return result


@contextmanager
def board(
    client: TestClient, query: str = "group=all"
) -> Iterator[tuple[WebSocketTestSession, int]]:
    """An open board socket (as the client's signed-in staff) and its first snapshot's seq."""
    with client.websocket_connect(f"/board/ws?{query}", headers=ORIGIN) as ws:
        first = receive(ws)
        assert first["snapshot"] is True
        assert isinstance(first["seq"], int)
        yield ws, first["seq"]


# -- the API ---------------------------------------------------------------------------------


def api_headers(token: str = API_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def send_announcement(
    client: TestClient | httpx.Client,
    child: str = "C-LEA",
    guardian: str = "G-TREMBLAY",
    token: str = API_TOKEN,
    **how: Any,
) -> Any:
    """A parent's announcement through the API (`how`: the mode and its fields; by default
    arriving at 16:00, or at the `eta` given); the answer, whatever it is."""
    if "mode" not in how:
        how = {"mode": "eta", "eta": "16:00", **how}
    body = {"child_id": child, "guardian_id": guardian, **how}
    return client.post("/api/v1/pickups", headers=api_headers(token), json=body)


def announce(
    client: TestClient | httpx.Client,
    child: str = "C-LEA",
    guardian: str = "G-TREMBLAY",
    token: str = API_TOKEN,
    status: str | None = None,
    **how: Any,
) -> dict[str, Any]:
    """`send_announcement`, accepted (201) and, when `status` is given, in that status: the
    pickup."""
    response = send_announcement(client, child, guardian, token, **how)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    if status is not None:
        assert body["status"] == status
    return body


def announce_gps(url: str, child_id: str, guardian_id: str) -> dict[str, Any]:
    """A parent at the door (GPS at Pavillon des Érables), to the live server at `url`: the
    alert is due at once; the pickup."""
    lat, lon = ERABLES
    with httpx.Client(base_url=url) as web:
        return announce(web, child_id, guardian_id, mode="gps", latitude=lat, longitude=lon)


def announce_at_the_door(url: str, child_id: str, guardian_id: str) -> int:
    """`announce_gps`: the pickup's id."""
    pickup_id: int = announce_gps(url, child_id, guardian_id)["id"]
    return pickup_id


# Every fact that lets a parent announce a child.
ANNOUNCEABLE = AnnounceFacts(
    **dict.fromkeys(("pickup_enabled", "present", "is_guardian"), True),
    **dict.fromkeys(("departed_today", "photo_pending", "has_live_pickup"), False),
)


def era_board(
    groups: tuple[tuple[int, str], ...],
    sections: tuple[GroupSection, ...] = (),
    alerts: tuple[AlertItem, ...] = (),
    upcoming: tuple[AlertItem, ...] = (),
    seq: int = 42,
) -> BoardState:
    """A board of Pavillon des Érables (5 minutes of preparation) at T0, held in memory:
    `groups` as (id, name), their `sections`, the `alerts` and `upcoming` arrivals."""
    return BoardState(
        installation_id=1,
        installation_name="Pavillon des Érables",
        timezone="America/Toronto",
        preparation_minutes=5,
        seq=seq,
        now=T0,
        day=T0.date(),
        groups=groups,
        alerts=alerts,
        upcoming=upcoming,
        sections=sections,
    )


# -- the routes ------------------------------------------------------------------------------

# A path as written, its parameters without their convertor: `{pickup_id:id}` is `{pickup_id}`.
CONVERTOR = re.compile(r"\{(\w+):\w+\}")


def app_routes() -> list[tuple[str, str, set[str]]]:
    """Every route of an app that is built, never run (no database is opened): its own path as
    written, its whole path (mounts included, convertors left out) and its methods."""
    var = Path(tempfile.mkdtemp(prefix="relais-routes-"))
    settings = Settings(database_url="sqlite+aiosqlite://", secret_key="x", var_dir=var)
    return list(_routes_under(create_app(settings, background=False).routes, ""))


def _routes_under(routes: list[BaseRoute], prefix: str) -> Iterator[tuple[str, str, set[str]]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _routes_under(route.routes or [], prefix + route.path)
        elif isinstance(route, Route):
            yield route.path, prefix + CONVERTOR.sub(r"{\1}", route.path), route.methods or set()


# -- a real server ---------------------------------------------------------------------------


def stop_process(process: subprocess.Popen[bytes], how: signal.Signals, within: float) -> None:
    """Ask a server process to stop (`how`), and kill it if it has not within `within` s."""
    process.send_signal(how)
    try:
        process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # not the main thread
        pass


@contextmanager
def serving_app(app: Any, **config: Any) -> Iterator[str]:
    """A real uvicorn server of `app` on a free port, in a thread of the test process (so the
    test can move its clock); its URL once it answers."""
    port = free_port()
    server = _ThreadedServer(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _attempt in range(200):  # ask it, do not sleep
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                break
        except httpx.TransportError:
            thread.join(0.05)
    else:
        raise AssertionError("the test server did not start")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


# -- a second organization -------------------------------------------------------------------

B_PASSWORD = "beta-secret-2026"
B_ADMIN = "direction@beta.example"
B_PARENT = "parent@beta.example"
B_TOKEN = "beta-api-token"
B_INSTALLATION = "Garderie Bêta — Centre Nord"
B_GROUP = "Les Pingouins"


@cache
def b_password_hash() -> str:
    """argon2 on purpose takes tens of milliseconds: the shared password is hashed once."""
    return hash_password(B_PASSWORD)


@dataclass(frozen=True)
class Beta:
    organization: Organization
    installation: Installation
    groups: list[Group]
    children: list[Child]  # B-C1, B-C2, … in the first group
    parent: Guardian  # B-G1, guardian of every child
    admin: StaffUser


async def beta(
    session: AsyncSession,
    children: tuple[str, ...] = ("Zacharie Bêta", "Ophélie Bêta"),
    present: tuple[int, ...] = (0,),
    groups: tuple[tuple[str, str], ...] = (("B-PING", B_GROUP),),
    **parent: Any,
) -> Beta:
    """Another daycare organization ("Garderie Bêta"): one installation (B-NORD) and its
    groups, `children` in the first group (those at the indexes in `present` checked in at T0),
    their parent Hélène (B-G1, `B_PARENT`; `parent`: more of her fields) and an administrator
    (`B_ADMIN`, `B_PASSWORD`)."""
    org = await demo.organization(session, "Garderie Bêta")
    org_id = demo.id_of(org)
    inst, made = await demo.installation(
        session, org_id, "B-NORD", B_INSTALLATION, groups, latitude=45.5017, longitude=-73.5673
    )
    kids = [
        await demo.child(session, made[0], org_id, f"B-C{number}", name)
        for number, name in enumerate(children, 1)
    ]
    hélène = await demo.guardian(session, org_id, "B-G1", "Hélène Bêta", B_PARENT, kids, **parent)
    admin = await demo.staff(
        session, org_id, B_ADMIN, "Direction Bêta", Role.ADMIN, b_password_hash(), T0
    )
    here = [(demo.id_of(kids[i]), demo.id_of(inst)) for i in present]
    await demo.present(session, here, inst.timezone, T0)
    return Beta(org, inst, made, kids, hélène, admin)


async def other_organization(
    session: AsyncSession,
    name: str = "Autre CPE",
    installation: str = "Ailleurs",
    groups: tuple[tuple[str, str], ...] = (),
) -> tuple[int, Installation, list[Group]]:
    """A bare other organization with one installation (external id OTH) and its `groups`:
    (the organization's id, the installation, its groups)."""
    org_id = demo.id_of(await demo.organization(session, name))
    inst, made = await demo.installation(session, org_id, "OTH", installation, groups)
    return org_id, inst, made
