"""A roster that would deactivate more than a fifth of the active children (a partial export,
a filter left on) is a warning that needs an explicit confirmation, refused on the server
without it, the same way on the director's page, the API (409 unless
?confirm_deactivations=true) and the command line (--confirm-deactivations, or "yes" at the
terminal). Under the threshold nothing changes (CONTRACT.md)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server import cli
from server.core.models import Child, ChildGuardian, Group, Guardian, Installation
from server.core.settings import Settings
from server.roster.cli import import_roster
from tests.helpers import api_headers, csrf, in_db, login, organization_id
from tests.unit.test_roster import SIMPLE_HEADER, _csv, counts

HEADERS = api_headers()


def whole_roster(database_url: str) -> dict[str, Any]:
    """The demo organization's roster as it stands, in the API's shape (children by id)."""
    org = organization_id(database_url)

    async def read(session: AsyncSession) -> dict[str, Any]:
        installations = (
            await session.scalars(
                select(Installation).where(col(Installation.organization_id) == org)
            )
        ).all()
        by_installation = {i.id: i for i in installations}
        groups = (
            await session.scalars(
                select(Group).where(col(Group.installation_id).in_(list(by_installation)))
            )
        ).all()
        by_group = {g.id: g for g in groups}
        guardians = (
            await session.scalars(
                select(Guardian).where(
                    col(Guardian.organization_id) == org, col(Guardian.kind) == "guardian"
                )
            )
        ).all()
        by_guardian = {g.id: g for g in guardians}
        children = (
            await session.scalars(
                select(Child)
                .where(col(Child.organization_id) == org, col(Child.active).is_(True))
                .order_by(col(Child.external_id))
            )
        ).all()
        links: dict[int, list[str]] = {}
        for child_id, guardian_id in await session.execute(
            select(col(ChildGuardian.child_id), col(ChildGuardian.guardian_id))
        ):
            if guardian_id in by_guardian:
                links.setdefault(child_id, []).append(by_guardian[guardian_id].external_id)
        return {
            "installations": [
                {
                    "id": i.external_id,
                    "name": i.name,
                    "groups": [
                        {"id": g.external_id, "name": g.name}
                        for g in groups
                        if g.installation_id == i.id
                    ],
                }
                for i in installations
            ],
            "guardians": [
                {
                    "id": g.external_id,
                    "first_name": g.first_name,
                    "last_name": g.last_name,
                    "email": g.email,
                }
                for g in guardians
            ],
            "children": [
                {
                    "id": c.external_id,
                    "first_name": c.first_name,
                    "last_name": c.last_name,
                    "installation_id": by_installation[c.installation_id].external_id,
                    "group_id": by_group[c.group_id].external_id,
                    "agreement_active": c.agreement_active,
                    "pickup_enabled": c.pickup_enabled,
                    "guardian_ids": sorted(links.get(c.id or 0, [])),
                }
                for c in children
            ],
        }

    return in_db(database_url, read)


def without_children(body: dict[str, Any], dropped: int) -> dict[str, Any]:
    """The same roster with its last `dropped` children left out (they would be deactivated)."""
    kept = body["children"][: len(body["children"]) - dropped]
    return {**body, "children": kept}


def as_simple_csv(body: dict[str, Any]) -> bytes:
    """The roster as the one-file CSV the director uploads: a row per child and guardian."""
    names = {i["id"]: i["name"] for i in body["installations"]}
    groups = {g["id"]: g["name"] for i in body["installations"] for g in i["groups"]}
    guardians = {g["id"]: g for g in body["guardians"]}
    rows = []
    for c in body["children"]:
        child = [
            c["installation_id"],
            names[c["installation_id"]],
            c["group_id"],
            groups[c["group_id"]],
            c["id"],
            c["first_name"],
            c["last_name"],
            "true" if c["agreement_active"] else "false",
            "true" if c["pickup_enabled"] else "false",
        ]
        for gid in c["guardian_ids"] or [""]:
            g = guardians.get(gid)
            rows.append(
                child
                + ([gid, g["first_name"], g["last_name"], g["email"]] if g else ["", "", "", ""])
            )
    return _csv(SIMPLE_HEADER, rows)


# -- the API ---------------------------------------------------------------------------------------


def test_api_applies_a_fifth_as_before(client: TestClient, database_url: str) -> None:
    body = whole_roster(database_url)
    active = len(body["children"])
    fifth = active // 5  # exactly a fifth at most: not "more than a fifth"
    assert fifth >= 1
    response = client.put("/api/v1/roster", headers=HEADERS, json=without_children(body, fifth))
    assert response.status_code == 200, response.text
    assert response.json()["deactivated"]["children"] == fifth
    assert counts(database_url)["active_children"] == active - fifth


def test_api_refuses_more_than_a_fifth_unless_confirmed(
    client: TestClient, database_url: str
) -> None:
    body = whole_roster(database_url)
    active = len(body["children"])
    partial = without_children(body, active - 2)  # the "86 of 88"
    before = counts(database_url)

    refused = client.put("/api/v1/roster", headers=HEADERS, json=partial)
    assert refused.status_code == 409
    answer = refused.json()
    assert answer["reason"] == "mass_deactivation"
    assert (answer["deactivating"], answer["active_children"]) == (active - 2, active)
    assert answer["detail"] == (
        f"This roster would deactivate {active - 2} of the {active} active children (more than "
        "a fifth): nothing was applied. Check that the file is the whole roster; to apply it "
        "anyway, confirm the deactivations. (Send it again with ?confirm_deactivations=true.)"
    )
    assert counts(database_url) == before  # nothing applied, nobody invited

    french = client.put("/api/v1/roster?lang=fr", headers=HEADERS, json=partial)
    assert french.status_code == 409
    assert (
        f"Cette liste désactiverait {active - 2} des {active} enfants actifs"
        in (french.json()["detail"])
    )

    unclear = client.put(
        "/api/v1/roster?confirm_deactivations=maybe", headers=HEADERS, json=partial
    )
    assert unclear.status_code == 422
    assert unclear.json()["detail"] == "confirm_deactivations must be true or false."
    no = client.put("/api/v1/roster?confirm_deactivations=false", headers=HEADERS, json=partial)
    assert no.status_code == 409
    assert counts(database_url) == before

    confirmed = client.put(
        "/api/v1/roster?confirm_deactivations=true", headers=HEADERS, json=partial
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["deactivated"]["children"] == active - 2
    assert counts(database_url)["active_children"] == 2


def test_openapi_documents_the_flag_and_the_409(client: TestClient) -> None:
    put = client.get("/api/v1/openapi.json").json()["paths"]["/roster"]["put"]
    assert [p["name"] for p in put["parameters"]] == ["confirm_deactivations"]
    assert "409" in put["responses"]


# -- the director's page ---------------------------------------------------------------------------


def _upload(client: TestClient, data: bytes) -> Any:
    return client.post(
        "/admin/roster/preview",
        files={"file": ("liste.csv", data, "text/csv")},
        data={"csrf_token": csrf(client)["X-CSRF-Token"]},
    )


def _apply(client: TestClient, upload_id: str, **extra: str) -> Any:
    return client.post(
        "/admin/roster/apply",
        data={"csrf_token": csrf(client)["X-CSRF-Token"], "upload_id": upload_id, **extra},
    )


def test_the_preview_warns_and_applying_needs_the_box(
    client: TestClient, database_url: str
) -> None:
    body = whole_roster(database_url)
    active = len(body["children"])
    login(client, "direction@example.org")
    before = counts(database_url)
    preview = _upload(client, as_simple_csv(without_children(body, active - 2)))
    assert preview.status_code == 200, preview.text
    plan = preview.text.split('id="roster-plan"', 1)[1]
    # A warning (role alert), not the reassuring status box.
    assert 'class="notice notice--warning" role="alert" id="roster-plan"' in preview.text
    assert (
        f"Attention : cette liste désactiverait {active - 2} des {active} enfants actifs." in plan
    )
    assert f"Je confirme la désactivation de {active - 2} enfants" in plan
    assert 'name="confirm_deactivations" value="yes" required' in plan
    assert 'class="button button--danger"' in plan
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', preview.text)
    assert upload_id is not None

    # The box left unticked (a form sent without the browser's check): refused, kept.
    refused = _apply(client, upload_id.group(1))
    assert refused.status_code == 422
    assert "Cochez la case pour confirmer les désactivations" in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert counts(database_url) == before
    assert upload_id.group(1) in refused.text  # the same upload, still there to confirm

    applied = _apply(client, upload_id.group(1), confirm_deactivations="yes")
    assert applied.status_code == 200, applied.text
    assert 'id="roster-result"' in applied.text
    assert counts(database_url)["active_children"] == 2


def test_a_small_change_is_previewed_as_before(client: TestClient, database_url: str) -> None:
    body = whole_roster(database_url)
    login(client, "direction@example.org")
    preview = _upload(client, as_simple_csv(without_children(body, 1)))
    assert preview.status_code == 200, preview.text
    assert 'class="notice" role="status" id="roster-plan"' in preview.text
    assert "confirm_deactivations" not in preview.text
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', preview.text)
    assert upload_id is not None
    assert _apply(client, upload_id.group(1)).status_code == 200
    assert counts(database_url)["active_children"] == len(body["children"]) - 1


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def partial_file(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path
) -> tuple[Path, int]:
    """A one-file CSV keeping 2 of the demo's active children, and how many it deactivates."""
    monkeypatch.setenv("RELAIS_DATABASE_URL", database_url)
    monkeypatch.setenv("RELAIS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("RELAIS_SECRET_KEY", "test")
    monkeypatch.delenv("RELAIS_SMTP_URL", raising=False)
    body = whole_roster(database_url)
    path = tmp_path / "liste.csv"
    path.write_bytes(as_simple_csv(without_children(body, len(body["children"]) - 2)))
    return path, len(body["children"]) - 2


def test_cli_refuses_without_the_flag_when_nobody_can_answer(
    database_url: str, partial_file: tuple[Path, int], capsys: pytest.CaptureFixture[str]
) -> None:
    path, deactivating = partial_file
    before = counts(database_url)
    # Under pytest stdin is not a terminal: a script's run, nobody to ask.
    assert cli.main(["import-roster", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"would deactivate {deactivating} of the {deactivating + 2} active children" in err
    assert "nothing was applied" in err and "--confirm-deactivations" in err
    assert counts(database_url) == before

    assert cli.main(["import-roster", str(path), "--confirm-deactivations"]) == 0
    assert counts(database_url)["active_children"] == 2


def test_cli_asks_at_a_terminal(database_url: str, partial_file: tuple[Path, int]) -> None:
    path, deactivating = partial_file
    before = counts(database_url)
    questions: list[str] = []

    def answer(reply: bool) -> Any:
        def ask(question: str) -> bool:
            questions.append(question)
            return reply

        return ask

    settings = Settings.from_env()
    assert import_roster(settings, path, None, ask=answer(False)) == 1
    assert counts(database_url) == before
    assert questions == [
        f"This roster would deactivate {deactivating} of the {deactivating + 2} active "
        "children (more than a fifth). Apply it? [yes/no]"
    ]
    assert import_roster(settings, path, None, ask=answer(True)) == 0
    assert counts(database_url)["active_children"] == 2
