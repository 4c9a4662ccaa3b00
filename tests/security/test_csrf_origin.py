"""CSRF and Origin on every state-changing route, enumerated from the app's own routes: a new
route is covered the day it is added, without anyone remembering to list it.

The browser is signed in as a director, a parent and a centre account at once, so every
route's sign-in check passes and what refuses a forged request is the forgery check itself.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from markupsafe import escape
from starlette.testclient import TestClient

from server.core.i18n import _, use_locale
from tests.helpers import another_browser, app_routes
from tests.security.conftest import FOREIGN, SAME_SITE

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Values for path parameters: real-looking, so a route gets as far as it can.
PARAMS = {
    "pickup_id": "1",
    "child_id": "1",
    "display_id": "1",
    "user_id": "1",
    "token_id": "1",
    "guardian_id": "1",
    "installation_id": "1",
    "job_id": "1",
    "request_id": "1",
    "emergency_id": "1",
    "id": "1",
    "kind": "child",
    "target_id": "1",
    "token": "a-link-token-that-does-not-exist",
}


ROUTES = [(m, path) for _, path, methods in app_routes() for m in sorted(methods & UNSAFE)]
# The API authenticates with bearer tokens, never cookies: no CSRF to forge there.
BROWSER_ROUTES = [(m, p) for m, p in ROUTES if not p.startswith("/api/")]


def url(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        assert name in PARAMS, f"a new path parameter {name!r}: give it a value in PARAMS"
        return PARAMS[name]

    return re.sub(r"\{([^}]+)\}", value, path)


def says(message: str) -> str:
    """A refusal as the page shows it: French first, HTML-escaped."""
    with use_locale("fr_CA"):
        return str(escape(_(message)))


ORIGIN_REFUSED = "This form did not come from Relais's own pages."
CSRF_REFUSED = "This form has expired or did not come from Relais. Reload the page and try again."


def send(client: TestClient, method: str, path: str, **kwargs: Any) -> Any:
    return client.request(method, url(path), follow_redirects=False, **kwargs)


def test_every_state_changing_route_is_enumerated() -> None:
    # The table below is the app's; this only guards against enumerating nothing.
    assert ("POST", "/login") in BROWSER_ROUTES
    assert ("POST", "/board/pickups/{pickup_id}/status") in BROWSER_ROUTES
    assert ("PUT", "/api/v1/roster") in ROUTES
    assert len(BROWSER_ROUTES) > 40


@pytest.mark.parametrize(("method", "path"), BROWSER_ROUTES)
def test_forged_requests_are_refused_and_our_own_pages_are_not(
    client: TestClient, everyone: TestClient, method: str, path: str
) -> None:
    token = everyone.cookies.get("relais_csrf") or ""
    assert token

    # From another site's page, even with the browser's valid token (Origin, else Referer).
    for headers in (
        {"Origin": FOREIGN, "X-CSRF-Token": token},
        {"Origin": "null", "X-CSRF-Token": token},
        {"Referer": f"{FOREIGN}/page", "X-CSRF-Token": token},
    ):
        answer = send(everyone, method, path, headers=headers, data={"csrf_token": token})
        assert answer.status_code == 403, (headers, answer.text[:300])
        assert says(ORIGIN_REFUSED) in answer.text

    # From our own page, without the token.
    answer = send(everyone, method, path, headers=SAME_SITE, data={"email": "x@example.org"})
    assert answer.status_code == 403, answer.text[:300]
    assert says(CSRF_REFUSED) in answer.text

    # With a pair (cookie, token) valid for someone else — an anonymous visitor, as an
    # attacker who plants their own cookie in the victim's browser holds: bound to another
    # sign-in, it is worth nothing here.
    stranger = another_browser(client)
    stranger.get("/login")
    planted = stranger.cookies.get("relais_csrf") or ""
    assert planted and planted != token
    everyone.cookies.set("relais_csrf", planted)
    for submitted in (
        {"headers": {**SAME_SITE, "X-CSRF-Token": planted}},
        {"headers": SAME_SITE, "data": {"csrf_token": planted}},
    ):
        answer = send(everyone, method, path, **submitted)
        assert answer.status_code == 403, answer.text[:300]
        assert says(CSRF_REFUSED) in answer.text
    everyone.cookies.set("relais_csrf", token)

    # The control: from our page with the browser's own token, neither check refuses
    # (whatever the route then says about made-up ids).
    answer = send(everyone, method, path, headers={**SAME_SITE, "X-CSRF-Token": token}, data={})
    assert says(ORIGIN_REFUSED) not in answer.text
    assert says(CSRF_REFUSED) not in answer.text
    assert answer.status_code < 500
