"""/admin/log and /admin/log.csv: the release log, its filters, pages and export."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server import demo
from server.core.models import Child, ChildGuardian, Pickup
from tests.helpers import (
    T0,
    announce,
    another_browser,
    api_headers,
    csrf,
    demo_ids,
    in_db,
    login,
    other_organization,
)


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    login(client, "direction@example.org")
    client.get("/admin/log?lang=en")  # English column names and labels below
    return client


def api_step(client: TestClient, pickup_id: int, status: str) -> None:
    response = client.post(
        f"/api/v1/pickups/{pickup_id}/status", headers=api_headers(), json={"status": status}
    )
    assert response.status_code == 200, response.text


def board_step(client: TestClient, pickup_id: int, from_: str, to: str) -> None:
    response = client.post(
        f"/board/pickups/{pickup_id}/status",
        data={"from": from_, "to": to},
        headers=csrf(client),
    )
    assert response.status_code == 200, response.text


def child_name(client: TestClient, external_id: str) -> str:
    children = client.get("/api/v1/children", headers=api_headers()).json()
    found = next(c for c in children if c["id"] == external_id)
    return f"{found['first_name']} {found['last_name']}"


def row_of(page: str, pickup_id: int) -> str:
    match = re.search(rf'<tr id="log-pickup-{pickup_id}">(.*?)</tr>', page, re.S)
    assert match, page
    return match.group(1)


@pytest.fixture
def history(admin: TestClient) -> dict[str, int]:
    """Today: one pickup taken through every step (the director on the board called, the API
    made ready, reception departed), one in the other installation, just announced."""
    first = announce(admin, "C0001", "G0001")["id"]
    board_step(admin, first, "announced", "called")
    api_step(admin, first, "ready")
    reception = another_browser(admin)
    login(reception, "accueil@example.org")
    board_step(reception, first, "ready", "departed")
    second = announce(admin, "C0043", "G0043")["id"]
    return {"first": first, "second": second}


def test_the_log_shows_who_pressed_what(admin: TestClient, history: dict[str, int]) -> None:
    page = admin.get("/admin/log")
    assert page.status_code == 200
    assert "2 pickups" in page.text
    first = row_of(page.text, history["first"])
    assert child_name(admin, "C0001") in first
    for text in ("Les Lutins", "Pavillon des Érables", "16:00", "Direction", "Démo", "Accueil"):
        assert text in first, text
    assert "Departed" in first
    # Called by the director, ready by the API, departed by reception: in that order.
    assert first.index("Direction") < first.index("Démo") < first.index("Accueil")
    second = row_of(page.text, history["second"])
    assert (
        "Pavillon des Bouleaux" in second and "Arriving soon" in second
    )  # the board's and the parent's word


def test_filters_narrow(admin: TestClient, history: dict[str, int], database_url: str) -> None:
    ids = demo_ids(database_url)
    by_installation = admin.get("/admin/log", params={"installation_id": ids["BOU"]}).text
    assert f"log-pickup-{history['second']}" in by_installation
    assert f"log-pickup-{history['first']}" not in by_installation

    by_group = admin.get("/admin/log", params={"group_id": ids["ERA-LUT"]}).text
    assert f"log-pickup-{history['first']}" in by_group
    assert f"log-pickup-{history['second']}" not in by_group

    first_name = child_name(admin, "C0001").split()[0]
    # Case and accents do not matter.
    wanted = first_name.upper().replace("É", "E")
    by_child = admin.get("/admin/log", params={"child": wanted}).text
    assert f"log-pickup-{history['first']}" in by_child
    assert f"log-pickup-{history['second']}" not in by_child
    nobody = admin.get("/admin/log", params={"child": "zzzz"}).text
    assert "No pickup matches" in nobody

    tomorrow = (T0.date() + timedelta(days=1)).isoformat()
    later = admin.get("/admin/log", params={"from": tomorrow, "to": tomorrow}).text
    assert "0 pickups" in later
    around = admin.get("/admin/log", params={"from": "2026-11-01", "to": "2026-11-30"}).text
    assert "2 pickups" in around


def test_bad_filters_are_explained_next_to_the_field(admin: TestClient, database_url: str) -> None:
    ids = demo_ids(database_url)

    async def foreign(session: AsyncSession) -> int:
        _, inst, _ = await other_organization(session)
        return demo.id_of(inst)

    other = in_db(database_url, foreign)
    for params, field in (
        ({"from": "24/11/2026"}, "from"),
        ({"from": "2026-11-24", "to": "2026-11-01"}, "to"),
        ({"from": "2024-01-01", "to": "2026-11-24"}, "to"),
        ({"installation_id": other}, "installation_id"),
        ({"installation_id": "abc"}, "installation_id"),
        ({"installation_id": ids["ERA"], "group_id": ids["BOU-CAS"]}, "group_id"),
    ):
        response = admin.get("/admin/log", params=params)
        assert response.status_code == 400, params
        assert f'id="log-{field}-error"' in response.text, params
        assert "Ailleurs" not in response.text
    assert admin.get("/admin/log.csv", params={"from": "nope"}).status_code == 400


def test_the_csv_has_the_same_rows(admin: TestClient, history: dict[str, int]) -> None:
    response = admin.get("/admin/log.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and "2026-11-24" in disposition
    assert response.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    first = next(r for r in rows if r["Pickup"] == str(history["first"]))
    assert first["Child"] == child_name(admin, "C0001")
    assert first["Installation"] == "Pavillon des Érables"
    assert first["Group"] == "Les Lutins"
    assert first["Called by"] == "Direction"
    assert first["Ready by"] == "Démo"
    assert first["Departed by"] == "Accueil"
    assert first["Announced at"] == "2026-11-24T16:00:00-05:00"
    assert first["Called at"] == "2026-11-24T16:00:00-05:00"
    assert first["Day"] == "2026-11-24"

    ids_only = admin.get("/admin/log.csv", params={"child": "zzzz"})
    assert list(csv.reader(io.StringIO(ids_only.content.decode("utf-8-sig"))))[1:] == []


def test_fifty_rows_a_page(admin: TestClient, database_url: str) -> None:
    """55 pickups over past days (inserted directly: only the listing is tested here)."""

    async def fill(session: AsyncSession) -> None:
        children = (
            await session.execute(select(Child).order_by(col(Child.id)).limit(55))
        ).scalars()
        for n, child in enumerate(children):
            assert child.id is not None
            guardian_id = (
                (
                    await session.execute(
                        select(col(ChildGuardian.guardian_id)).where(
                            col(ChildGuardian.child_id) == child.id
                        )
                    )
                )
                .scalars()
                .first()
            )
            assert guardian_id is not None
            at = T0 - timedelta(days=1 + n % 3)
            session.add(
                Pickup(
                    organization_id=child.organization_id,
                    installation_id=child.installation_id,
                    child_id=child.id,
                    guardian_id=guardian_id,
                    day=at.date(),
                    mode="eta",
                    status="departed",
                    created_at=at,
                    updated_at=at,
                )
            )

    in_db(database_url, fill)
    params: dict[str, Any] = {"from": "2026-11-01", "to": "2026-11-24"}
    first = admin.get("/admin/log", params=params).text
    assert "55 pickups" in first and "Page 1 of 2" in first
    assert first.count('<tr id="log-pickup-') == 50
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = admin.get("/admin/log", params={**params, "page": 2}).text
    assert second.count('<tr id="log-pickup-') == 5 and 'rel="prev"' in second
    # Newest day first.
    days = re.findall(r'<tr id="log-pickup-\d+">\s*<td><time datetime="([\d-]+)">', first)
    assert days == sorted(days, reverse=True) and date.fromisoformat(days[0]) < T0.date()
    csv_rows = admin.get("/admin/log.csv", params=params).content.decode("utf-8-sig")
    assert len(list(csv.reader(io.StringIO(csv_rows)))) == 56


@pytest.mark.parametrize("email", ["accueil@example.org", "educatrice@example.org"])
def test_only_admins(client: TestClient, email: str) -> None:
    login(client, email)
    assert client.get("/admin/log").status_code == 403
    assert client.get("/admin/log.csv").status_code == 403
