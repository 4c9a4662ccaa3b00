"""Who may see and do what: role × resource × organization, as a user or integrator sees it.

A second organization ("Bêta") is created directly in the database next to the demo one, so
every check also proves that nothing crosses the organization line. Sites used in the table:

- ERA: Pavillon des Érables (demo; reception's and the educator's installation)
- BOU: Pavillon des Bouleaux (demo; admin only)
- B:   the other organization's only installation
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from server import demo
from server.core.models import Child, Installation, Organization
from tests.helpers import (
    API_TOKEN,
    B_ADMIN,
    B_GROUP,
    B_INSTALLATION,
    B_PASSWORD,
    B_TOKEN,
    ORIGIN,
    T0,
    announce,
    api_headers,
    beta,
    csrf,
    in_db,
    login,
)

REVOKED_TOKEN = "revoked-demo-api-token"

SITE_NAMES = {"ERA": "Pavillon des Érables", "BOU": "Pavillon des Bouleaux", "B": B_INSTALLATION}
# One group name per site, to tell from a board's content which installation it shows.
SITE_GROUPS = {"ERA": "Les Lutins", "BOU": "Les Castors", "B": B_GROUP}
# Present children who get an announced pickup, and children marked absent, per site.
PICKUP_CHILD = {"ERA": ("C-LEA", "G-TREMBLAY"), "BOU": ("C0043", "G0043"), "B": ("B-C1", "B-G1")}
ABSENT_CHILD = {"ERA": "C0002", "BOU": "C0044", "B": "B-C2"}
SITE_TOKEN = {"ERA": API_TOKEN, "BOU": API_TOKEN, "B": B_TOKEN}
SITE_EXTERNAL = {"ERA": "ERA", "BOU": "BOU", "B": "B-NORD"}

ROLE_EMAILS = {
    "admin": "direction@example.org",
    "reception": "accueil@example.org",
    "educator": "educatrice@example.org",
    "other-org-admin": B_ADMIN,
}
# The installations each role may see (what its pages may name).
VISIBLE = {
    "admin": {"ERA", "BOU"},
    "reception": {"ERA"},
    "educator": {"ERA"},
    "other-org-admin": {"B"},
    "anonymous": set(),
    "wall-display": set(),
}


@dataclass(frozen=True)
class OrgB:
    organization_id: int
    installation_id: int
    group_id: int
    child_id: int
    absent_child_id: int


@pytest.fixture
def org_b(database_url: str) -> OrgB:
    """A second organization: installation, group, a present and an absent child, a
    guardian, an admin and an API token. Plus a revoked token of the demo organization."""

    async def create(session: AsyncSession) -> OrgB:
        b = await beta(session)
        await demo.api_token(session, demo.id_of(b.organization), B_TOKEN, "Bêta", T0)
        demo_org = (
            await session.execute(
                select(col(Organization.id)).where(
                    col(Organization.name) == "Service de garde Les Érables"
                )
            )
        ).scalar_one()
        assert demo_org is not None
        revoked = {"revoked_at": T0 - timedelta(days=1)}
        await demo.api_token(
            session, demo_org, REVOKED_TOKEN, "Ancien", T0 - timedelta(days=30), **revoked
        )
        present, absent = (demo.id_of(c) for c in b.children)
        ids = (demo.id_of(b.organization), demo.id_of(b.installation), demo.id_of(b.groups[0]))
        return OrgB(*ids, present, absent)

    return in_db(database_url, create)


def internal_ids(database_url: str) -> tuple[dict[str, int], dict[str, int]]:
    """(installation id per site, internal child id per external id)."""

    async def load(session: AsyncSession) -> tuple[dict[str, int], dict[str, int]]:
        insts = (
            await session.execute(select(col(Installation.external_id), col(Installation.id)))
        ).all()
        children = (await session.execute(select(col(Child.external_id), col(Child.id)))).all()
        by_external = {ext: iid for ext, iid in insts if iid is not None}
        sites = {site: by_external[ext] for site, ext in SITE_EXTERNAL.items()}
        return sites, {ext: cid for ext, cid in children if cid is not None}

    return in_db(database_url, load)


@dataclass
class World:
    client: TestClient
    database_url: str
    installations: dict[str, int]
    children: dict[str, int]
    pickups: dict[str, int]
    display_token: str | None = None


def announce_at(client: TestClient, site: str, eta: str = "16:00") -> dict[str, Any]:
    child, guardian = PICKUP_CHILD[site]
    return announce(client, child, guardian, SITE_TOKEN[site], status="announced", eta=eta)


def mark_absent(client: TestClient, site: str) -> None:
    response = client.post(
        "/api/v1/attendance",
        headers=api_headers(SITE_TOKEN[site]),
        json={"child_id": ABSENT_CHILD[site], "present": False},
    )
    assert response.status_code == 200, response.text


@pytest.fixture
def world(client: TestClient, database_url: str, org_b: OrgB) -> World:
    """An announced pickup and an absent child at every site, nobody signed in."""
    pickups = {site: announce_at(client, site)["id"] for site in ("ERA", "BOU", "B")}
    for site in ("ERA", "BOU"):  # B-C2 was never checked in
        mark_absent(client, site)
    installations, children = internal_ids(database_url)
    assert installations["B"] == org_b.installation_id
    return World(client, database_url, installations, children, pickups)


def create_display(client: TestClient, installation_id: int, name: str = "Hall d'entrée") -> str:
    """As a signed-in admin: create a wall display, return the token from the link shown."""
    page = client.post(
        "/admin/displays",
        data={
            "name": name,
            "installation_id": str(installation_id),
            "group_id": "all",
            "csrf_token": csrf(client)["X-CSRF-Token"],
        },
    )
    assert page.status_code == 200, page.text
    match = re.search(r"http://testserver/display/([A-Za-z0-9_-]+)", page.text)
    assert match, "the new display link is shown on the page"
    return match.group(1)


def sign_in(world: World, role: str) -> None:
    if role in ROLE_EMAILS:
        password = B_PASSWORD if role == "other-org-admin" else None
        if password:
            login(world.client, ROLE_EMAILS[role], password)
        else:
            login(world.client, ROLE_EMAILS[role])
    elif role == "wall-display":
        login(world.client, ROLE_EMAILS["admin"])
        world.display_token = create_display(world.client, world.installations["ERA"])
        world.client.cookies.clear()  # the wall screen has only its link
    else:
        assert role == "anonymous"


# -- outcomes --------------------------------------------------------------------------------

PAGE = "page"  # 200, names what the role may see and nothing else
DONE = "done"  # 200 and the change happened
WS_OK = "ws-ok"  # accepted; the first message is a snapshot
REFUSED = "refused"  # handshake refused (close 1008 before accept)
LOGIN = "login"  # redirected to the sign-in page
NOT_FOUND = 404
FORBIDDEN = 403

SITES = ("ERA", "BOU", "B")


def per_site(**by_role: tuple[Any, Any, Any]) -> dict[str, dict[str, Any]]:
    return {role: dict(zip(SITES, outcomes, strict=True)) for role, outcomes in by_role.items()}


def _site_table(
    ok: Any, denied: Any, anonymous: Any, display: tuple[Any, Any, Any]
) -> dict[str, dict[str, Any]]:
    """Admins act on both demo installations, reception and educators on ERA only, the
    other organization's admin on B only."""
    return per_site(
        admin=(ok, ok, denied),
        reception=(ok, denied, denied),
        educator=(ok, denied, denied),
        **{
            "other-org-admin": (denied, denied, ok),
            "anonymous": (anonymous, anonymous, anonymous),
            "wall-display": display,
        },
    )


MATRIX: dict[str, dict[str, dict[str, Any]]] = {
    "board": _site_table(PAGE, NOT_FOUND, LOGIN, (LOGIN, LOGIN, LOGIN)),
    "press-call": _site_table(DONE, NOT_FOUND, LOGIN, (LOGIN, LOGIN, LOGIN)),
    "check-in": _site_table(DONE, NOT_FOUND, LOGIN, (LOGIN, LOGIN, LOGIN)),
    # A display link always shows its own installation (ERA), whatever the URL asks for.
    "socket": _site_table(WS_OK, REFUSED, REFUSED, (WS_OK, WS_OK, WS_OK)),
}
ADMIN_PAGE = {
    "admin": PAGE,
    "reception": FORBIDDEN,
    "educator": FORBIDDEN,
    "other-org-admin": PAGE,
    "anonymous": LOGIN,
    "wall-display": LOGIN,
}

CASES = [
    pytest.param(role, resource, site, outcome, id=f"{role}-{resource}@{site}-{outcome}")
    for resource, table in MATRIX.items()
    for role, by_site in table.items()
    for site, outcome in by_site.items()
] + [
    pytest.param(role, "admin-page", None, outcome, id=f"{role}-admin-page-{outcome}")
    for role, outcome in ADMIN_PAGE.items()
]


def pickup_status(world: World, site: str) -> str:
    listed = world.client.get("/api/v1/pickups", headers=api_headers(SITE_TOKEN[site])).json()
    return str(next(p["status"] for p in listed if p["id"] == world.pickups[site]))


def child_present(world: World, site: str) -> bool:
    listed = world.client.get(
        f"/api/v1/children?installation_id={SITE_EXTERNAL[site]}",
        headers=api_headers(SITE_TOKEN[site]),
    ).json()
    return bool(next(c["present"] for c in listed if c["id"] == ABSENT_CHILD[site]))


def assert_page_names_only_visible(text: str, role: str, must_show: set[str]) -> None:
    for site in must_show:
        assert SITE_NAMES[site] in text
    for site in set(SITES) - VISIBLE[role]:
        assert SITE_NAMES[site] not in text, f"{role} must not see {SITE_NAMES[site]}"


def assert_login_redirect(response: Any) -> None:
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def assert_refused(client: TestClient, url: str, headers: dict[str, str] = ORIGIN) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(url, headers=headers),
    ):
        pass
    if isinstance(refused.value, WebSocketDenialResponse):
        assert refused.value.status_code == 403
    else:
        assert refused.value.code == 1008  # policy violation, before the handshake completes


def assert_snapshot_of(client: TestClient, url: str, site: str) -> None:
    with client.websocket_connect(url, headers=ORIGIN) as ws:
        first = ws.receive_json()
    assert first.get("snapshot") is True
    assert isinstance(first["seq"], int)
    assert SITE_GROUPS[site] in first["content"]
    for other in set(SITES) - {site}:
        assert SITE_GROUPS[other] not in first["content"]


@pytest.mark.parametrize(("role", "resource", "site", "expected"), CASES)
def test_access_matrix(
    world: World, role: str, resource: str, site: str | None, expected: Any
) -> None:
    sign_in(world, role)
    client = world.client

    if resource == "admin-page":
        # /admin and a section that names the installations (the wall displays' form).
        for path in ("/admin", "/admin/displays"):
            response = client.get(path, follow_redirects=False)
            if expected == LOGIN:
                assert_login_redirect(response)
            elif expected == PAGE:
                assert response.status_code == 200
                if path != "/admin":
                    assert_page_names_only_visible(response.text, role, VISIBLE[role])
            else:
                assert response.status_code == expected
                assert "Pavillon" not in response.text
        return

    assert site is not None
    installation = world.installations[site]

    if resource == "board":
        response = client.get(f"/board?installation={installation}", follow_redirects=False)
        if expected == LOGIN:
            assert_login_redirect(response)
        elif expected == PAGE:
            assert response.status_code == 200
            assert_page_names_only_visible(response.text, role, {site})
            assert SITE_GROUPS[site] in response.text
        else:
            assert response.status_code == expected
            assert SITE_GROUPS[site] not in response.text

    elif resource == "press-call":
        response = client.post(
            f"/board/pickups/{world.pickups[site]}/status",
            data={"from": "announced", "to": "called"},
            headers=csrf(client),
            follow_redirects=False,
        )
        if expected == LOGIN:
            assert_login_redirect(response)
        else:
            assert response.status_code == (200 if expected == DONE else expected)
        assert pickup_status(world, site) == ("called" if expected == DONE else "announced")

    elif resource == "check-in":
        child = world.children[ABSENT_CHILD[site]]
        response = client.post(
            f"/board/children/{child}/check-in", headers=csrf(client), follow_redirects=False
        )
        if expected == LOGIN:
            assert_login_redirect(response)
        else:
            assert response.status_code == (200 if expected == DONE else expected)
        assert child_present(world, site) is (expected == DONE)

    elif resource == "socket":
        if role == "wall-display":
            url = f"/board/ws?display={world.display_token}&installation={installation}"
        else:
            url = f"/board/ws?installation={installation}&group=all"
        if expected == WS_OK:
            assert_snapshot_of(client, url, "ERA" if role == "wall-display" else site)
        else:
            assert expected == REFUSED
            assert_refused(client, url)
    else:  # pragma: no cover
        raise AssertionError(resource)


# -- wall displays -----------------------------------------------------------------------------


def test_display_link_is_shown_once_and_only_opens_its_installation(world: World) -> None:
    client = world.client
    login(client, ROLE_EMAILS["admin"])
    token = create_display(client, world.installations["ERA"], name="Écran du hall")

    again = client.get("/admin/displays")
    assert "Écran du hall" in again.text
    assert token not in again.text, "the link is shown once, at creation"

    client.cookies.clear()
    wall = client.get(f"/display/{token}")
    assert wall.status_code == 200
    assert "Pavillon des Érables" in wall.text
    assert "Les Castors" not in wall.text
    assert_snapshot_of(client, f"/board/ws?display={token}", "ERA")
    # The display cannot be used to act: it is not a staff session.
    response = client.post(
        f"/board/pickups/{world.pickups['ERA']}/status?display={token}",
        data={"from": "announced", "to": "called"},
        headers=csrf(client),
        follow_redirects=False,
    )
    assert_login_redirect(response)
    assert pickup_status(world, "ERA") == "announced"


def test_revoked_or_unknown_display_link_is_refused(world: World) -> None:
    client = world.client
    login(client, ROLE_EMAILS["admin"])
    token = create_display(client, world.installations["ERA"])
    display_id = re.findall(r"/admin/displays/(\d+)/revoke", client.get("/admin/displays").text)
    assert len(display_id) == 1
    revoked = client.post(
        f"/admin/displays/{display_id[0]}/revoke",
        data={"csrf_token": csrf(client)["X-CSRF-Token"]},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    client.cookies.clear()
    assert client.get(f"/display/{token}").status_code == 404
    assert_refused(client, f"/board/ws?display={token}")
    assert_refused(client, "/board/ws?display=not-a-real-display-token")


def test_other_org_admin_cannot_create_display_for_foreign_installation(world: World) -> None:
    client = world.client
    login(client, B_ADMIN, B_PASSWORD)
    page = client.post(
        "/admin/displays",
        data={
            "name": "Intrus",
            "installation_id": str(world.installations["ERA"]),
            "group_id": "all",
            "csrf_token": csrf(client)["X-CSRF-Token"],
        },
    )
    assert page.status_code == 400
    assert "/display/" not in page.text
    assert "Pavillon des Érables" not in page.text


# -- API tokens --------------------------------------------------------------------------------

TOKENS = {
    "other-org-token": B_TOKEN,
    "revoked-token": REVOKED_TOKEN,
    "unknown-token": "no-such-token",
    "no-token": None,
}


def _api_call(world: World, operation: str, headers: dict[str, str]) -> Any:
    client = world.client
    if operation == "list-children-of-ERA":
        return client.get("/api/v1/children?installation_id=ERA", headers=headers)
    if operation == "patch-child":
        return client.patch("/api/v1/children/C-LEA", headers=headers, json={"group_id": "ERA-EXP"})
    if operation == "announce":
        return client.post(
            "/api/v1/pickups",
            headers=headers,
            json={"child_id": "C0003", "guardian_id": "G0003", "mode": "eta", "eta": "16:30"},
        )
    if operation == "attendance":
        return client.post(
            "/api/v1/attendance", headers=headers, json={"child_id": "C-LEA", "present": False}
        )
    if operation == "advance-pickup":
        return client.post(
            f"/api/v1/pickups/{world.pickups['ERA']}/status",
            headers=headers,
            json={"status": "called"},
        )
    raise AssertionError(operation)


API_OPERATIONS = ("list-children-of-ERA", "patch-child", "announce", "attendance", "advance-pickup")


@pytest.mark.parametrize("operation", API_OPERATIONS)
@pytest.mark.parametrize(
    ("token_kind", "expected"),
    [
        pytest.param("other-org-token", 404, id="other-org-token-404"),
        pytest.param("revoked-token", 401, id="revoked-token-401"),
        pytest.param("unknown-token", 401, id="unknown-token-401"),
        pytest.param("no-token", 401, id="no-token-401"),
    ],
)
def test_api_token_cannot_touch_demo_organization(
    world: World, token_kind: str, expected: int, operation: str
) -> None:
    token = TOKENS[token_kind]
    headers = api_headers(token) if token else {}
    response = _api_call(world, operation, headers)
    assert response.status_code == expected, response.text
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]

    # Nothing changed for the demo organization.
    demo = api_headers()
    lea = next(
        c for c in world.client.get("/api/v1/children", headers=demo).json() if c["id"] == "C-LEA"
    )
    assert lea["group_id"] == "ERA-LUT"
    assert lea["present"] is True
    pickups = world.client.get("/api/v1/pickups", headers=demo).json()
    assert {p["child_id"] for p in pickups} == {"C-LEA", "C0043"}
    assert pickup_status(world, "ERA") == "announced"


def test_api_token_lists_only_its_own_organization(world: World) -> None:
    client = world.client
    children = client.get("/api/v1/children", headers=api_headers(B_TOKEN)).json()
    assert {c["id"] for c in children} == {"B-C1", "B-C2"}
    assert {c["guardian_ids"][0] for c in children} == {"B-G1"}
    installations = client.get("/api/v1/installations", headers=api_headers(B_TOKEN)).json()
    assert [i["name"] for i in installations] == [B_INSTALLATION]
    assert [g["name"] for g in installations[0]["groups"]] == [B_GROUP]
    pickups = client.get("/api/v1/pickups", headers=api_headers(B_TOKEN)).json()
    assert [p["child_id"] for p in pickups] == ["B-C1"]
    # A guardian of the other organization cannot be used for a demo child either way.
    crossed = client.post(
        "/api/v1/pickups",
        headers=api_headers(),
        json={"child_id": "C0003", "guardian_id": "B-G1", "mode": "eta", "eta": "16:30"},
    )
    assert crossed.status_code == 404
    assert "B-G1" in crossed.json()["detail"]
