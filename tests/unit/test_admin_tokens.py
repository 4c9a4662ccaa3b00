"""/admin/tokens: create a token (shown once), use it on the API, revoke it."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient

from server import demo
from server.core.clock import ManualClock
from server.core.models import ApiToken
from server.core.security import token_hash
from tests.helpers import T0, api_headers, in_db, login, the_row


def form(client: TestClient, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": client.cookies.get("relais_csrf"), **fields}


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    login(client, "direction@example.org")
    return client


def create(client: TestClient, name: str) -> str:
    response = client.post("/admin/tokens", data=form(client, name=name), follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/tokens"
    page = client.get("/admin/tokens")
    match = re.search(r'<code class="tokens-new" id="new-token">([\w-]+)</code>', page.text)
    assert match, page.text
    return match.group(1)


def token_row(database_url: str, name: str) -> ApiToken:
    return the_row(database_url, ApiToken, name=name)


def test_the_page_lists_tokens(admin: TestClient) -> None:
    page = admin.get("/admin/tokens")
    assert page.status_code == 200
    assert "Démo" in page.text
    assert "24 nov. 2026 16:00" in page.text  # created, in Québec time, as French reads it


@pytest.mark.parametrize("email", ["accueil@example.org", "educatrice@example.org"])
def test_only_admins(client: TestClient, email: str) -> None:
    login(client, email)
    assert client.get("/admin/tokens").status_code == 403
    assert client.post("/admin/tokens", data=form(client, name="Sneaky")).status_code == 403


def test_a_created_token_works_once_shown_and_records_its_last_use(
    admin: TestClient, database_url: str, clock: ManualClock
) -> None:
    token = create(admin, "Logiciel de gestion")
    # Shown once: reloading the page does not show it again.
    assert token not in admin.get("/admin/tokens").text
    row = token_row(database_url, "Logiciel de gestion")
    assert row.token_hash == token_hash(token) and row.last_used_at is None
    assert token not in str(row.token_hash)

    clock.advance(timedelta(minutes=7))
    response = admin.get("/api/v1/installations", headers=api_headers(token))
    assert response.status_code == 200
    assert {i["id"] for i in response.json()} == {"ERA", "BOU"}
    used = token_row(database_url, "Logiciel de gestion")
    assert used.last_used_at == T0 + timedelta(minutes=7)
    row_html = admin.get("/admin/tokens").text
    assert "24 nov. 2026 16:07" in row_html  # last used, in Québec time


def test_a_revoked_token_is_refused(admin: TestClient, database_url: str) -> None:
    token = create(admin, "Vieux système")
    row = token_row(database_url, "Vieux système")
    response = admin.post(
        f"/admin/tokens/{row.id}/revoke", data=form(admin), follow_redirects=False
    )
    assert response.status_code == 303
    assert admin.get("/api/v1/installations", headers=api_headers(token)).status_code == 401
    assert token_row(database_url, "Vieux système").revoked_at is not None
    # The demo token is untouched.
    assert admin.get("/api/v1/installations", headers=api_headers()).status_code == 200
    page = admin.get("/admin/tokens").text
    assert f'id="token-{row.id}" class="tokens-row--revoked"' in page


def test_a_name_is_required_and_kept(admin: TestClient) -> None:
    response = admin.post("/admin/tokens", data=form(admin, name="   "))
    assert response.status_code == 400
    assert 'id="token-name-error"' in response.text
    long_name = "x" * 201
    response = admin.post("/admin/tokens", data=form(admin, name=long_name))
    assert response.status_code == 400
    assert 'id="token-name-error"' in response.text and f'value="{long_name}"' in response.text


def test_another_organizations_token_is_not_found(admin: TestClient, database_url: str) -> None:
    async def work(session: AsyncSession) -> int:
        org_id = demo.id_of(await demo.organization(session, "Autre CPE"))
        return demo.id_of(await demo.api_token(session, org_id, "theirs", "Leur jeton", T0))

    other_id = in_db(database_url, work)
    response = admin.post(f"/admin/tokens/{other_id}/revoke", data=form(admin))
    assert response.status_code == 404
    assert admin.post("/admin/tokens/abc/revoke", data=form(admin)).status_code == 404
    assert "Leur jeton" not in admin.get("/admin/tokens").text
    assert admin.get("/api/v1/installations", headers=api_headers("theirs")).status_code == 200
