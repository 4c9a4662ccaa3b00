"""The attacker's view: a second organization ("Bêta") next to the demo one, with every kind of
account an attacker could hold there (an administrator, reception, a parent with a password,
a centre account, an API token, a wall display), and helpers to act as a browser would —
same-origin, CSRF header, cookies of its own.

Sites: A is the demo organization (Pavillon des Érables, "ERA"), B the other one.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server.app import create_app
from server.core.clock import ManualClock
from server.core.models import (
    ApiToken,
    Attendance,
    CenterAccount,
    Child,
    ChildGuardian,
    Display,
    Group,
    Guardian,
    Installation,
    Organization,
    OutboxMessage,
    Pickup,
    Role,
    SignInSession,
    StaffUser,
)
from server.core.security import hash_password, new_token, token_hash
from server.core.settings import Settings
from server.pickups.rules import local_day
from tests.conftest import API_TOKEN, PASSWORD, T0, another_browser, api_headers, in_db

SESSION_COOKIE, PARENT_COOKIE, PORTAL_COOKIE = "relais_session", "relais_parent", "relais_portal"
ORIGIN = "http://testserver"
SAME_SITE = {"Origin": ORIGIN}
FOREIGN = "https://evil.example"

B_PASSWORD = "beta-secret-2026"
B_ADMIN = "direction@beta.example"
B_RECEPTION = "accueil@beta.example"
B_PARENT = "parent@beta.example"
B_CENTRE = "centre@beta.example"
B_TOKEN = "beta-api-token"
B_DISPLAY = "beta-wall-display-token"
B_INSTALLATION = "Garderie Bêta — Centre Nord"
B_GROUP = "Les Pingouins"
B_CHILD = ("Zacharie", "Bêta")

A_ADMIN = "direction@example.org"
A_RECEPTION = "accueil@example.org"
A_PARENT = "parent@example.org"
A_CENTRE = "centre.erables@example.org"
A_DISPLAY = "demo-wall-display-token"
# What only A's pages show: an installation, a group, a child's name.
A_MARKERS = ("Pavillon des Érables", "Les Lutins", "Tremblay")
B_MARKERS = (B_INSTALLATION, B_GROUP, "Zacharie")

# argon2 on purpose takes tens of milliseconds: hash the shared test password once.
_B_HASH = hash_password(B_PASSWORD)


@dataclass(frozen=True)
class Site:
    """One organization's ids, as an attacker of the other one would aim at them."""

    organization: int
    installation: int
    group: int
    other_group: int
    child: int  # present, with a live pickup
    other_child: int  # present, no pickup, the same parent (B) or another family (A)
    guardian: int  # the parent with a password
    staff: int  # reception's account
    token: int  # the API token's row
    display: int
    pickup: int
    child_external: str
    guardian_external: str
    installation_external: str


@dataclass(frozen=True)
class World:
    client: TestClient
    database_url: str
    a: Site
    b: Site

    def site(self, name: str) -> Site:
        return self.a if name == "A" else self.b


async def _create_beta(session: AsyncSession) -> None:
    org = Organization(name="Garderie Bêta", timezone="America/Toronto")
    session.add(org)
    await session.flush()
    assert org.id is not None
    inst = Installation(
        organization_id=org.id,
        external_id="B-NORD",
        name=B_INSTALLATION,
        latitude=45.5017,
        longitude=-73.5673,
    )
    session.add(inst)
    await session.flush()
    assert inst.id is not None
    group = Group(installation_id=inst.id, external_id="B-PING", name=B_GROUP)
    other = Group(installation_id=inst.id, external_id="B-OURS", name="Les Oursons")
    session.add_all([group, other])
    await session.flush()
    assert group.id is not None
    present = Child(
        organization_id=org.id,
        installation_id=inst.id,
        group_id=group.id,
        external_id="B-C1",
        first_name=B_CHILD[0],
        last_name=B_CHILD[1],
    )
    absent = Child(
        organization_id=org.id,
        installation_id=inst.id,
        group_id=group.id,
        external_id="B-C2",
        first_name="Ophélie",
        last_name="Bêta",
    )
    sibling = Child(
        organization_id=org.id,
        installation_id=inst.id,
        group_id=group.id,
        external_id="B-C3",
        first_name="Béatrice",
        last_name="Bêta",
    )
    parent = Guardian(
        organization_id=org.id,
        external_id="B-G1",
        first_name="Hélène",
        last_name="Bêta",
        email=B_PARENT,
        account_state="active",
        password_hash=_B_HASH,
    )
    session.add_all([present, absent, sibling, parent])
    await session.flush()
    assert present.id and absent.id and sibling.id and parent.id
    today = local_day(T0, inst.timezone)
    session.add_all(
        [
            ChildGuardian(child_id=present.id, guardian_id=parent.id),
            ChildGuardian(child_id=absent.id, guardian_id=parent.id),
            ChildGuardian(child_id=sibling.id, guardian_id=parent.id),
            Attendance(child_id=present.id, installation_id=inst.id, day=today, checked_in_at=T0),
            Attendance(child_id=sibling.id, installation_id=inst.id, day=today, checked_in_at=T0),
            StaffUser(
                organization_id=org.id,
                email=B_ADMIN,
                display_name="Direction Bêta",
                password_hash=_B_HASH,
                role=Role.ADMIN,
                created_at=T0,
            ),
            StaffUser(
                organization_id=org.id,
                email=B_RECEPTION,
                display_name="Accueil Bêta",
                password_hash=_B_HASH,
                role=Role.RECEPTION,
                installation_id=inst.id,
                created_at=T0,
            ),
            CenterAccount(
                installation_id=inst.id, email=B_CENTRE, password_hash=_B_HASH, created_at=T0
            ),
            ApiToken(
                organization_id=org.id, name="Bêta", token_hash=token_hash(B_TOKEN), created_at=T0
            ),
            Display(
                organization_id=org.id,
                installation_id=inst.id,
                name="Hall Bêta",
                token_hash=token_hash(B_DISPLAY),
                created_at=T0,
            ),
        ]
    )
    # A wall display for the demo organization too (the demo data has none).
    era = (
        await session.execute(select(Installation).where(col(Installation.external_id) == "ERA"))
    ).scalar_one()
    assert era.id is not None
    session.add(
        Display(
            organization_id=era.organization_id,
            installation_id=era.id,
            name="Hall des Érables",
            token_hash=token_hash(A_DISPLAY),
            created_at=T0,
        )
    )


def announce(client: TestClient, token: str, child: str, guardian: str) -> int:
    """A parent at the door, through the API: the alert is live at once."""
    response = client.post(
        "/api/v1/pickups",
        headers=api_headers(token),
        json={"child_id": child, "guardian_id": guardian, "mode": "eta", "eta": "16:00"},
    )
    assert response.status_code == 201, response.text
    pickup_id: int = response.json()["id"]
    return pickup_id


async def _site(session: AsyncSession, installation_external: str, child: str) -> dict[str, Any]:
    inst = (
        await session.execute(
            select(Installation).where(col(Installation.external_id) == installation_external)
        )
    ).scalar_one()
    org = inst.organization_id
    groups = (
        (
            await session.execute(
                select(Group).where(col(Group.installation_id) == inst.id).order_by(col(Group.id))
            )
        )
        .scalars()
        .all()
    )
    kid = (
        await session.execute(
            select(Child).where(col(Child.organization_id) == org, col(Child.external_id) == child)
        )
    ).scalar_one()
    pickup = (
        await session.execute(select(Pickup).where(col(Pickup.child_id) == kid.id))
    ).scalar_one()
    guardian = await session.get(Guardian, pickup.guardian_id)
    assert guardian is not None
    other = (
        (
            await session.execute(
                select(Child)
                .where(
                    col(Child.installation_id) == inst.id,
                    col(Child.id) != kid.id,
                    col(Child.group_id) == kid.group_id,
                )
                .order_by(col(Child.id).desc())
            )
        )
        .scalars()
        .first()
    )
    assert other is not None
    staff = (
        await session.execute(
            select(StaffUser).where(
                col(StaffUser.organization_id) == org, col(StaffUser.role) == Role.RECEPTION
            )
        )
    ).scalar_one()
    token = (
        (
            await session.execute(
                select(ApiToken)
                .where(col(ApiToken.organization_id) == org)
                .order_by(col(ApiToken.id))
            )
        )
        .scalars()
        .first()
    )
    display = (
        await session.execute(select(Display).where(col(Display.organization_id) == org))
    ).scalar_one()
    return {
        "organization": org,
        "installation": inst.id,
        "group": kid.group_id,
        "other_group": next(g.id for g in groups if g.id != kid.group_id),
        "child": kid.id,
        "other_child": other.id,
        "guardian": guardian.id,
        "staff": staff.id,
        "token": token.id if token else 0,
        "display": display.id,
        "pickup": pickup.id,
        "child_external": kid.external_id,
        "guardian_external": guardian.external_id,
        "installation_external": installation_external,
    }


@pytest.fixture
def world(client: TestClient, database_url: str) -> World:
    """Both organizations, a live pickup at each (Léa Tremblay at A, Zacharie at B), nobody
    signed in."""
    in_db(database_url, _create_beta)
    announce(client, API_TOKEN, "C-LEA", "G-TREMBLAY")
    announce(client, B_TOKEN, "B-C1", "B-G1")

    async def load(session: AsyncSession) -> tuple[dict[str, Any], dict[str, Any]]:
        return await _site(session, "ERA", "C-LEA"), await _site(session, "B-NORD", "B-C1")

    a, b = in_db(database_url, load)
    return World(client, database_url, Site(**a), Site(**b))


# -- browsers --------------------------------------------------------------------------------


def csrf_headers(client: TestClient) -> dict[str, str]:
    """What htmx sends with a button press: the page's CSRF token, from the page's origin."""
    if client.cookies.get("relais_csrf") is None:
        client.get("/login")
    return {"X-CSRF-Token": client.cookies.get("relais_csrf") or "", **SAME_SITE}


def post(client: TestClient, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    headers = {**csrf_headers(client), **kwargs.pop("headers", {})}
    return client.post(path, data=data or {}, headers=headers, follow_redirects=False, **kwargs)


def sign_in(client: TestClient, kind: str, email: str, password: str = PASSWORD) -> None:
    """Through the sign-in form of `kind` (staff, parent, portal), as a browser would."""
    page = {"staff": "/login", "parent": "/parent/login", "portal": "/portal/login"}[kind]
    client.get(page)
    answer = post(client, page, {"email": email, "password": password})
    assert answer.status_code == 303, answer.text


EMAILS = {
    ("a", "admin"): A_ADMIN,
    ("a", "reception"): A_RECEPTION,
    ("a", "parent"): A_PARENT,
    ("a", "centre"): A_CENTRE,
    ("b", "admin"): B_ADMIN,
    ("b", "reception"): B_RECEPTION,
    ("b", "parent"): B_PARENT,
    ("b", "centre"): B_CENTRE,
}


def sign_in_as(client: TestClient, database_url: str, kind: str, email: str) -> TestClient:
    """A session for `email` (staff, parent or centre), written straight into the database
    (no password hashing to wait for: sign-in itself is tested in test_signin.py), its
    cookie given to `client`, and the page's CSRF cookie fetched."""
    token = new_token()
    later = T0 + timedelta(days=1)

    async def create(session: AsyncSession) -> None:
        if kind == "parent":
            owner = (
                await session.execute(select(Guardian).where(col(Guardian.email) == email))
            ).scalar_one()
            assert owner.id is not None
            kind_id = ("parent", owner.id)
        elif kind == "centre":
            centre = (
                await session.execute(
                    select(CenterAccount).where(col(CenterAccount.email) == email)
                )
            ).scalar_one()
            assert centre.id is not None
            kind_id = ("centre", centre.id)
        else:
            user = (
                await session.execute(select(StaffUser).where(col(StaffUser.email) == email))
            ).scalar_one()
            assert user.id is not None
            kind_id = ("staff", user.id)
        session.add(
            SignInSession(
                token_hash=token_hash(token),
                kind=kind_id[0],
                account_id=kind_id[1],
                created_at=T0,
                expires_at=later,
            )
        )

    in_db(database_url, create)
    cookie = {"parent": PARENT_COOKIE, "centre": PORTAL_COOKIE}.get(kind, SESSION_COOKIE)
    client.cookies.set(cookie, token)
    client.get("/login")  # the CSRF cookie bound to the new sign-in
    return client


def browser(world: World, role: str) -> TestClient:
    """A fresh browser signed in as `role`: "a-admin", "b-parent", "b-centre", …, or
    "b-anonymous" (nobody)."""
    client = another_browser(world.client)
    org, kind = role.split("-", 1)
    if kind == "anonymous":
        return client
    return sign_in_as(client, world.database_url, kind, EMAILS[(org, kind)])


def signed_in_everywhere(client: TestClient, database_url: str) -> TestClient:
    """A browser signed in as A's director, A's parent and A's centre account at once."""
    sign_in_as(client, database_url, "admin", A_ADMIN)
    sign_in_as(client, database_url, "parent", A_PARENT)
    return sign_in_as(client, database_url, "centre", A_CENTRE)


@pytest.fixture
def everyone(client: TestClient, database_url: str) -> TestClient:
    """Every route's sign-in check passes for this browser, so what refuses a request is
    what is tested."""
    return signed_in_everywhere(another_browser(client), database_url)


def outbox_bodies(database_url: str) -> list[str]:
    async def load(session: AsyncSession) -> list[str]:
        rows = await session.execute(
            select(col(OutboxMessage.body)).order_by(col(OutboxMessage.id))
        )
        return list(rows.scalars())

    return in_db(database_url, load)


def outbox_count(database_url: str) -> int:
    async def count(session: AsyncSession) -> int:
        return int((await session.execute(select(func.count(col(OutboxMessage.id))))).scalar_one())

    return in_db(database_url, count)


# -- a live server, for tools that speak HTTP (schemathesis) ------------------------------


class _ThreadedServer(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # not the main thread
        pass


@contextmanager
def serving(settings: Settings, clock: ManualClock) -> Iterator[str]:
    """A real uvicorn server on a free port, in a thread of the test process; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    app = create_app(settings, clock=clock, background=False)
    server = _ThreadedServer(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
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
