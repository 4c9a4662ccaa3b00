"""The attacker's view: a second organization ("Bêta") next to the demo one, with every kind of
account an attacker could hold there (an administrator, reception, a parent with a password,
a centre account, an API token, a wall display), and helpers to act as a browser would —
same-origin, CSRF header, cookies of its own.

Sites: A is the demo organization (Pavillon des Érables, "ERA"), B the other one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server import demo
from server.app import create_app
from server.core.clock import ManualClock
from server.core.models import (
    ApiToken,
    Child,
    Display,
    Group,
    Guardian,
    Installation,
    OutboxMessage,
    Pickup,
    Role,
    StaffUser,
)
from server.core.settings import Settings
from tests.helpers import (
    B_ADMIN,
    B_GROUP,
    B_INSTALLATION,
    B_PARENT,
    B_TOKEN,
    PASSWORD,
    T0,
    announce,
    another_browser,
    b_password_hash,
    beta,
    in_db,
    serving_app,
    sign_in_as,
)

ORIGIN = "http://testserver"
SAME_SITE = {"Origin": ORIGIN}
FOREIGN = "https://evil.example"

B_RECEPTION = "accueil@beta.example"
B_CENTRE = "centre@beta.example"
B_DISPLAY = "beta-wall-display-token"
B_CHILD = ("Zacharie", "Bêta")

A_ADMIN = "direction@example.org"
A_RECEPTION = "accueil@example.org"
A_PARENT = "parent@example.org"
A_CENTRE = "centre.erables@example.org"
A_DISPLAY = "demo-wall-display-token"
# What only A's pages show: an installation, a group, a child's name.
A_MARKERS = ("Pavillon des Érables", "Les Lutins", "Tremblay")
B_MARKERS = (B_INSTALLATION, B_GROUP, "Zacharie")


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
    b = await beta(
        session,
        ("Zacharie Bêta", "Ophélie Bêta", "Béatrice Bêta"),
        present=(0, 2),
        groups=(("B-PING", B_GROUP), ("B-OURS", "Les Oursons")),
        account_state="active",
        password_hash=b_password_hash(),
    )
    inst = demo.id_of(b.installation)
    org = demo.id_of(b.organization)
    reception = ("Accueil Bêta", Role.RECEPTION, b_password_hash(), T0, inst)
    await demo.staff(session, org, B_RECEPTION, *reception)
    await demo.center_account(session, inst, B_CENTRE, b_password_hash(), T0)
    await demo.api_token(session, org, B_TOKEN, "Bêta", T0)
    await demo.displays(session, org, [inst], "Hall Bêta", T0, [B_DISPLAY])
    # A wall display for the demo organization too (the demo data has none).
    era = (
        await session.execute(select(Installation).where(col(Installation.external_id) == "ERA"))
    ).scalar_one()
    await demo.displays(
        session, era.organization_id, [demo.id_of(era)], "Hall des Érables", T0, [A_DISPLAY]
    )


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
    announce(client, "C-LEA", "G-TREMBLAY")
    announce(client, "B-C1", "B-G1", B_TOKEN)

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


@contextmanager
def serving(settings: Settings, clock: ManualClock) -> Iterator[str]:
    """A real uvicorn server on a free port, in a thread of the test process; its URL."""
    with serving_app(create_app(settings, clock=clock, background=False)) as url:
        yield url
