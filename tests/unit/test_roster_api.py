"""PUT /api/v1/roster (CONTRACT.md) and the /admin/roster upload, preview and apply."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server import demo
from server.core.models import Child, Guardian, Organization, OutboxMessage
from tests.helpers import T0, api_headers, csrf, in_db, login
from tests.unit.test_roster import (
    SIMPLE_HEADER,
    _csv,
    counts,
    oneroster_tables,
    oneroster_zip,
    simple_rows,
)

HEADERS = api_headers()
# contract_body() replaces the demo's children: more than a fifth deactivated, confirmed.
CONFIRMED = "/api/v1/roster?confirm_deactivations=true"


def contract_body() -> dict[str, Any]:
    return {
        "installations": [
            {
                "id": "ERA",
                "name": "Pavillon des Érables",
                "groups": [{"id": "ERA-LUT", "name": "Les Lutins"}],
            },
            {
                "id": "SOL",
                "name": "Pavillon du Soleil",
                "latitude": 46.81,
                "longitude": -71.22,
                "groups": [{"id": "SOL-A", "name": "Les Abeilles"}],
            },
        ],
        "guardians": [
            {
                "id": "G-TREMBLAY",
                "first_name": "Julie",
                "last_name": "Tremblay",
                "email": "parent@example.org",
            },
            {
                "id": "G-ROY",
                "first_name": "Luc",
                "last_name": "Roy",
                "email": "luc.roy@example.net",
            },
        ],
        "children": [
            {
                "id": "C-LEA",
                "first_name": "Léa",
                "last_name": "Tremblay",
                "installation_id": "ERA",
                "group_id": "ERA-LUT",
                "agreement_active": True,
                "pickup_enabled": True,
                "guardian_ids": ["G-TREMBLAY"],
            },
            {
                "id": "C-ROY",
                "first_name": "Emma",
                "last_name": "Roy",
                "installation_id": "SOL",
                "group_id": "SOL-A",
                "agreement_active": True,
                "pickup_enabled": True,
                "guardian_ids": ["G-ROY", "G-TREMBLAY"],
            },
        ],
    }


def outbox_to(database_url: str, address: str) -> int:
    async def work(session: AsyncSession) -> int:
        rows = await session.execute(select(OutboxMessage).where(col(OutboxMessage.to) == address))
        return len(rows.scalars().all())

    return in_db(database_url, work)


def test_put_roster_applies_and_is_idempotent(client: TestClient, database_url: str) -> None:
    before = counts(database_url)
    response = client.put(CONFIRMED, headers=HEADERS, json=contract_body())
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["created"] == {"installations": 1, "groups": 1, "guardians": 1, "children": 1}
    assert answer["updated"]["children"] == 0  # Léa is already so
    assert answer["deactivated"]["children"] == before["active_children"] - 1
    assert answer["invitations_sent"] == 1
    assert outbox_to(database_url, "luc.roy@example.net") == 1

    children = client.get("/api/v1/children", headers=HEADERS).json()
    assert {c["id"] for c in children} == {"C-LEA", "C-ROY"}
    roy = next(c for c in children if c["id"] == "C-ROY")
    assert roy["guardian_ids"] == ["G-ROY", "G-TREMBLAY"]
    installations = client.get("/api/v1/installations", headers=HEADERS).json()
    sol = next(i for i in installations if i["id"] == "SOL")
    assert (sol["latitude"], sol["groups"]) == (46.81, [{"id": "SOL-A", "name": "Les Abeilles"}])

    after = counts(database_url)
    again = client.put("/api/v1/roster", headers=HEADERS, json=contract_body())
    assert again.status_code == 200
    assert again.json() == {
        "created": dict.fromkeys(("installations", "groups", "guardians", "children"), 0),
        "updated": dict.fromkeys(("installations", "groups", "guardians", "children"), 0),
        "deactivated": dict.fromkeys(("installations", "groups", "guardians", "children"), 0),
        "invitations_sent": 0,
    }
    assert counts(database_url) == after


def test_changed_email_is_reinvited_and_a_move_reaches_the_board(
    client: TestClient, database_url: str
) -> None:
    assert client.put(CONFIRMED, headers=HEADERS, json=contract_body()).status_code == 200
    body = contract_body()
    body["guardians"][1]["email"] = "luc.nouveau@example.net"
    body["children"][0]["group_id"] = "ERA-EXP"
    body["installations"][0]["groups"].append({"id": "ERA-EXP", "name": "Les Explorateurs"})
    answer = client.put("/api/v1/roster", headers=HEADERS, json=body).json()
    assert answer["updated"]["guardians"] == 1 and answer["updated"]["children"] == 1
    assert answer["invitations_sent"] == 1
    assert outbox_to(database_url, "luc.nouveau@example.net") == 1


def test_bad_body_gives_an_error_per_row_and_applies_nothing(
    client: TestClient, database_url: str
) -> None:
    before = counts(database_url)
    body = contract_body()
    body["children"][0]["group_id"] = "NOPE"
    body["children"][1]["guardian_ids"] = ["G-UNKNOWN"]
    body["guardians"][1]["first_name"] = "L" * 101
    body["installations"].append(dict(body["installations"][1]))  # a duplicate id
    response = client.put("/api/v1/roster", headers=HEADERS, json=body)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    rows = {(e["row"], e["field"]) for e in errors}
    assert ("children[0]", "group_id") in rows
    assert ("children[1]", "guardian_ids") in rows
    assert ("guardians[1]", "first_name") in rows
    assert ("installations[2]", "id") in rows
    assert all(e["message"] for e in errors)
    assert counts(database_url) == before

    shape = client.put(
        "/api/v1/roster",
        headers=HEADERS,
        json={
            "installations": [],
            "guardians": [],
            "children": [{"id": "X", "pickup_enabled": "maybe"}],
        },
    )
    assert shape.status_code == 422
    assert {e["row"] for e in shape.json()["errors"]} == {"children[0]"}
    assert any(e["field"] == "pickup_enabled" for e in shape.json()["errors"])
    assert client.put("/api/v1/roster", headers=HEADERS, content=b"{").status_code == 422
    assert client.put("/api/v1/roster", json=contract_body()).status_code == 401
    assert counts(database_url) == before


def test_another_organizations_token_cannot_touch_this_one(
    client: TestClient, database_url: str
) -> None:
    async def other_org(session: AsyncSession) -> None:
        org = await demo.organization(session, "Autre service de garde")
        await demo.api_token(session, demo.id_of(org), "other-token", "Autre", T0)

    in_db(database_url, other_org)
    before = counts(database_url)
    response = client.put(
        "/api/v1/roster", headers=api_headers("other-token"), json=contract_body()
    )
    assert response.status_code == 200, response.text
    # Same external ids, but the other organization's own records: ours are untouched.
    assert response.json()["created"]["children"] == 2
    assert response.json()["deactivated"]["children"] == 0
    after = counts(database_url)
    assert after["active_children"] == before["active_children"] + 2

    async def ours(session: AsyncSession) -> tuple[str, bool]:
        lea = (
            await session.execute(
                select(Child)
                .join(Organization, col(Organization.id) == col(Child.organization_id))
                .where(
                    col(Child.external_id) == "C-LEA",
                    col(Organization.name) == "Service de garde Les Érables",
                )
            )
        ).scalar_one()
        parent = (
            await session.execute(
                select(Guardian).where(
                    col(Guardian.external_id) == "G-TREMBLAY",
                    col(Guardian.organization_id) == lea.organization_id,
                )
            )
        ).scalar_one()
        return parent.account_state, lea.active

    assert in_db(database_url, ours) == ("active", True)


def test_openapi_documents_the_roster(client: TestClient) -> None:
    document = client.get("/api/v1/openapi.json").json()
    assert "put" in document["paths"]["/roster"]
    assert "RosterIn" in document["components"]["schemas"]


# -- /admin/roster -------------------------------------------------------------------------------


def _upload(client: TestClient, name: str, data: bytes) -> Any:
    return client.post(
        "/admin/roster/preview",
        files={"file": (name, data, "application/octet-stream")},
        data={"csrf_token": csrf(client)["X-CSRF-Token"]},
    )


def test_admin_previews_then_applies(client: TestClient, database_url: str, tmp_path: Path) -> None:
    login(client, "direction@example.org")
    page = client.get("/admin/roster")
    assert page.status_code == 200 and 'name="file"' in page.text
    before = counts(database_url)
    data = oneroster_zip(oneroster_tables(children=60, guardians=80))
    preview = _upload(client, "roster.zip", data)
    assert preview.status_code == 200, preview.text
    assert 'data-count="created-children">60<' in preview.text
    assert counts(database_url) == before  # a preview applies nothing
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', preview.text)
    assert upload_id is not None
    stored = list((tmp_path / "roster-uploads").glob("*.bin"))
    assert len(stored) == 1 and stored[0].read_bytes() == data

    # It replaces the demo's children: a warning, applied with its box ticked.
    assert 'id="roster-warning"' in preview.text

    forged = client.post(
        "/admin/roster/apply",
        data={"csrf_token": csrf(client)["X-CSRF-Token"], "upload_id": "../../etc/passwd"},
    )
    assert forged.status_code == 410
    applied = client.post(
        "/admin/roster/apply",
        data={
            "csrf_token": csrf(client)["X-CSRF-Token"],
            "upload_id": upload_id.group(1),
            "confirm_deactivations": "yes",
        },
    )
    assert applied.status_code == 200, applied.text
    assert 'id="roster-result"' in applied.text
    assert counts(database_url)["children"] == before["children"] + 60
    assert not list((tmp_path / "roster-uploads").glob("*.bin"))
    again = client.post(
        "/admin/roster/apply",
        data={"csrf_token": csrf(client)["X-CSRF-Token"], "upload_id": upload_id.group(1)},
    )
    assert again.status_code == 410  # used once
    same = _upload(client, "roster.zip", data)
    assert 'id="roster-plan"' in same.text and 'name="upload_id"' not in same.text


def test_admin_preview_lists_row_errors(client: TestClient, database_url: str) -> None:
    login(client, "direction@example.org")
    before = counts(database_url)
    rows = simple_rows()
    rows[2][8] = "peut-être"
    response = _upload(client, "roster.csv", _csv(SIMPLE_HEADER, rows))
    assert response.status_code == 422
    assert 'id="roster-errors"' in response.text
    assert "<td>roster.csv</td><td>4</td>" in response.text and "pickup_enabled" in response.text
    assert 'name="upload_id"' not in response.text
    not_zip = _upload(client, "roster.zip", b"not a zip at all")
    assert not_zip.status_code == 422 and "zip" in not_zip.text
    assert counts(database_url) == before


def test_preview_expires_after_an_hour(client: TestClient, database_url: str, clock: Any) -> None:
    from datetime import timedelta

    login(client, "direction@example.org")
    preview = _upload(client, "roster.csv", _csv(SIMPLE_HEADER, simple_rows()))
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', preview.text)
    assert upload_id is not None
    clock.advance(timedelta(hours=1, minutes=1))
    late = client.post(
        "/admin/roster/apply",
        data={"csrf_token": csrf(client)["X-CSRF-Token"], "upload_id": upload_id.group(1)},
    )
    assert late.status_code == 410


def test_educator_and_forged_forms_are_refused(client: TestClient) -> None:
    login(client, "educatrice@example.org")
    assert client.get("/admin/roster").status_code == 403
    assert _upload(client, "roster.csv", b"x").status_code == 403
    client.cookies.clear()
    login(client, "direction@example.org")
    no_csrf = client.post("/admin/roster/preview", files={"file": ("roster.csv", b"x", "text/csv")})
    assert no_csrf.status_code == 403
    too_big = client.post(
        "/admin/roster/preview",
        content=b"x",
        headers={
            "Content-Length": str(30 * 1024 * 1024),
            "Content-Type": "multipart/form-data; boundary=x",
        },
    )
    assert too_big.status_code == 413
