"""Web Push from the attacker's side: a phone is told only of the pickups its own adult
announced, never of another family's or another daycare's; what a phone's subscription holds
cannot be read back or removed by anyone else."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.core.settings import Settings
from tests.helpers import B_PARENT, announce, another_browser, beta, csrf, in_db, sign_in_as
from tests.push_service import (
    SUBSCRIPTIONS,
    PushService,
    demo_settings,
    drain,
    step,
    subscribe,
    subscription_count,
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return demo_settings(database_url, tmp_path)


def test_another_daycares_parent_is_never_told_of_our_pickups(
    client: TestClient, database_url: str, push_server: PushService
) -> None:
    in_db(database_url, lambda session: beta(session, account_state="active"))
    stranger = sign_in_as(another_browser(client), database_url, "parent", B_PARENT)
    ours = sign_in_as(another_browser(client), database_url, "parent", "parent@example.org")
    assert subscribe(stranger, push_server.browser("stranger"), preparing=True).status_code == 201
    assert subscribe(ours, push_server.browser("ours")).status_code == 201
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")
    drain(client)
    assert push_server.to("stranger") == []
    assert len(push_server.to("ours")) == 1


def test_a_phone_taken_over_by_another_parent_is_theirs_alone(
    client: TestClient, database_url: str, push_server: PushService
) -> None:
    """The same browser (one endpoint) signed in by another family: the earlier family's
    notices stop going to it."""
    in_db(database_url, lambda session: beta(session, account_state="active"))
    ours = sign_in_as(another_browser(client), database_url, "parent", "parent@example.org")
    shared = push_server.browser("shared")
    assert subscribe(ours, shared).status_code == 201
    stranger = sign_in_as(another_browser(client), database_url, "parent", B_PARENT)
    assert subscribe(stranger, shared).status_code == 201
    assert subscription_count(database_url) == 1
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")
    drain(client)
    assert push_server.to("shared") == []


def test_the_contract_answers_json_and_reveals_nothing(
    client: TestClient, database_url: str, push_server: PushService
) -> None:
    parent = sign_in_as(another_browser(client), database_url, "parent", "parent@example.org")
    subscribe(parent, push_server.browser("phone"))
    assert parent.get(SUBSCRIPTIONS).status_code == 405  # no listing of anyone's phones
    broken = parent.post(
        SUBSCRIPTIONS,
        content=b"{not json",
        headers={**csrf(parent), "Content-Type": "application/json"},
    )
    assert broken.status_code == 422 and "detail" in broken.json()
    signed_out = client.post(SUBSCRIPTIONS, json={}, headers=csrf(client))
    assert signed_out.status_code == 401 and "detail" in signed_out.json()
