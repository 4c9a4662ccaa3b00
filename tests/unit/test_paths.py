"""Ids in paths (the `{x:id}` converter): digits only; anything else is the same 404, in the
visitor's words, as an unknown or foreign id."""

from __future__ import annotations

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from server.core.i18n import _, use_locale


def french(message: str) -> str:
    with use_locale("fr_CA"):
        return str(escape(_(message)))


@pytest.mark.parametrize(
    "path",
    ["/admin/staff/abc/disable", "/board/pickups/1e3/status", "/photos/child/-4", "/nowhere"],
)
def test_a_path_that_names_no_page_says_not_found_in_french(client: TestClient, path: str) -> None:
    response = client.post(path) if "/disable" in path or "/status" in path else client.get(path)

    assert response.status_code == 404
    assert french("Not found, or not yours to see.") in response.text
    assert "Not Found" not in response.text


def test_an_id_beyond_the_database_range_is_not_found(client: TestClient) -> None:
    response = client.get("/photos/child/99999999999")

    assert response.status_code == 404
    assert french("Not found, or not yours to see.") in response.text
