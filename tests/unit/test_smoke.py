from starlette.testclient import TestClient

from tests.helpers import api_headers, login


def test_board_shows_demo_children_after_sign_in(client: TestClient) -> None:
    login(client, "accueil@example.org")
    page = client.get("/board")
    assert page.status_code == 200
    assert "Léa Tremblay" in page.text
    assert "Pavillon des Érables" in page.text


def test_api_lists_installations(client: TestClient) -> None:
    response = client.get("/api/v1/installations", headers=api_headers())
    assert response.status_code == 200
    assert {i["name"] for i in response.json()} == {"Pavillon des Érables", "Pavillon des Bouleaux"}
