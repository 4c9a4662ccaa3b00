"""Web Push against a real push service on a free port (tests/push_service.py): what reaches a
parent's locked phone, decrypted with the subscription's own keys as a browser would; gone
subscriptions; retries; a push service that hangs never delays a board; the contract's
refusals; signing out and revoking end a phone's notifications."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server.app import create_app
from server.core.clock import ManualClock
from server.core.models import Guardian
from server.core.settings import Settings
from tests.helpers import (
    B_PARENT,
    announce,
    another_browser,
    api_headers,
    beta,
    board,
    csrf,
    in_db,
    receive,
    sign_in_as,
)
from tests.push_service import (
    HANG,
    SUBSCRIPTIONS,
    PushService,
    b64url,
    check_vapid,
    demo_settings,
    drain,
    services,
    step,
    subscribe,
    subscription_count,
)

PARENT = "parent@example.org"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return demo_settings(database_url, tmp_path, push_retry_seconds=0.01, push_timeout_seconds=2.0)


@pytest.fixture
def staff(client: TestClient, database_url: str) -> TestClient:
    return sign_in_as(client, database_url, "reception", "accueil@example.org")


@pytest.fixture
def parent(client: TestClient, database_url: str) -> TestClient:
    return sign_in_as(another_browser(client), database_url, "parent", PARENT)


def press(staff: TestClient, pickup_id: int, before: str, after: str) -> None:
    """A board button (undoable, unlike the API's steps)."""
    form = {"from": before, "to": after}
    pressed = staff.post(f"/board/pickups/{pickup_id}/status", data=form, headers=csrf(staff))
    assert pressed.status_code == 200, pressed.text


# -- the key ----------------------------------------------------------------------------------


def test_the_key_is_a_p256_public_key_kept_across_restarts(
    client: TestClient, settings: Settings, clock: ManualClock
) -> None:
    key = client.get("/parent/push/key").json()["key"]
    point = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)  # raises if not
    assert (settings.var_dir / "vapid_private_key.pem").stat().st_mode & 0o777 == 0o600
    with TestClient(create_app(settings, clock=clock, background=False)) as again:
        assert again.get("/parent/push/key").json()["key"] == key


def test_the_key_given_in_the_environment_is_used(settings: Settings, clock: ManualClock) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    raw = b64url(private.private_numbers().private_value.to_bytes(32))
    given = Settings(**{**settings.__dict__, "vapid_private_key": raw})
    with TestClient(create_app(given, clock=clock, background=False)) as client:
        key = client.get("/parent/push/key").json()["key"]
    point = private.public_key().public_numbers()
    assert base64.urlsafe_b64decode(key + "==")[1:33] == point.x.to_bytes(32)


# -- what reaches the phone -------------------------------------------------------------------


def test_ready_reaches_the_phone_encrypted_for_it_alone(
    client: TestClient, parent: TestClient, push_server: PushService
) -> None:
    phone = push_server.browser("phone")
    answer = subscribe(parent, phone)
    assert answer.status_code == 201, answer.text
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")  # « En préparation »: this phone did not ask for it
    drain(client)
    (delivery,) = push_server.to("phone")
    server_key = client.get("/parent/push/key").json()["key"]
    claims = check_vapid(delivery, server_key, push_server.url)
    assert claims["sub"] == "mailto:relais@example.org"
    message = phone.decrypt(delivery)
    assert message == {
        "child": "Léa",
        "state": "ready",
        "title": "Prêt",
        "body": "Léa vous attend : vous pouvez entrer.",
    }
    assert delivery.headers["urgency"] == "high"
    assert delivery.headers["topic"] == f"pickup-{pickup}"
    assert int(delivery.headers["ttl"]) == 900


def test_being_prepared_goes_only_to_phones_that_asked_in_their_language(
    client: TestClient, parent: TestClient, push_server: PushService
) -> None:
    phone = push_server.browser("phone")
    parent.get("/parent?lang=en")  # the notices follow the page's language
    assert subscribe(parent, phone, preparing=True).status_code == 201
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")
    drain(client)
    told = [phone.decrypt(d) for d in push_server.to("phone")]
    assert [(m["state"], m["title"]) for m in told] == [
        ("called", "Being prepared"),
        ("ready", "Ready"),
    ]
    assert told[1]["body"] == "Léa is ready: you can come in."


def test_an_alert_the_daycare_cancels_is_told_one_the_parent_cancels_is_not(
    client: TestClient, parent: TestClient, push_server: PushService
) -> None:
    phone = push_server.browser("phone")
    assert subscribe(parent, phone).status_code == 201
    pickup = announce(client, status="announced")["id"]
    cancelled = parent.post(f"/parent/pickups/{pickup}/cancel", headers=csrf(parent))
    assert cancelled.status_code == 200
    drain(client)
    assert push_server.to("phone") == []
    announce(client, status="announced")
    # The management system marks Léa absent: the daycare ends her alert.
    absent = client.post(
        "/api/v1/attendance", headers=api_headers(), json={"child_id": "C-LEA", "present": False}
    )
    assert absent.status_code == 200, absent.text
    drain(client)
    (delivery,) = push_server.to("phone")
    assert phone.decrypt(delivery)["state"] == "cancelled"
    assert "Léa" in phone.decrypt(delivery)["body"]


def test_an_alert_the_daycare_removes_is_told(
    client: TestClient, staff: TestClient, parent: TestClient, push_server: PushService
) -> None:
    phone = push_server.browser("phone")
    subscribe(parent, phone)
    pickup = announce(client, status="announced")["id"]
    removed = staff.post(
        f"/board/pickups/{pickup}/dismiss",
        data={"from": "announced", "reason": "not_here"},
        headers=csrf(staff),
    )
    assert removed.status_code == 200, removed.text
    drain(client)
    (delivery,) = push_server.to("phone")
    told = phone.decrypt(delivery)
    assert (told["state"], told["title"]) == ("dismissed", "Alerte retirée")
    assert told["body"].startswith("Le service de garde a retiré l’alerte pour Léa")


def test_an_undone_ready_is_corrected_on_every_phone(
    client: TestClient, staff: TestClient, parent: TestClient, push_server: PushService
) -> None:
    """« Prêt » pressed by mistake and taken back within ten seconds: the phone that was told
    « Prêt » is told « En préparation » (the same notification, replaced), even though it
    never asked for « En préparation »."""
    phone = push_server.browser("phone")
    subscribe(parent, phone)
    pickup = announce(client, status="announced")["id"]
    press(staff, pickup, "announced", "called")
    press(staff, pickup, "called", "ready")
    back = staff.post(f"/board/pickups/{pickup}/undo", data={"from": "ready"}, headers=csrf(staff))
    assert back.status_code == 200, back.text
    drain(client)
    assert [phone.decrypt(d)["state"] for d in push_server.to("phone")] == ["ready", "called"]


def test_the_payload_names_the_child_by_first_name_only(
    client: TestClient, parent: TestClient, push_server: PushService
) -> None:
    phone = push_server.browser("phone")
    subscribe(parent, phone)
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")
    drain(client)
    (delivery,) = push_server.to("phone")
    plain = str(phone.decrypt(delivery))
    assert "Tremblay" not in plain and "Pavillon" not in plain
    assert b"L\xc3\xa9a" not in delivery.body  # encrypted on the wire


# -- a push service that fails ----------------------------------------------------------------


@pytest.mark.parametrize("gone", [404, 410])
def test_a_subscription_the_push_service_calls_gone_is_deleted(
    client: TestClient, parent: TestClient, push_server: PushService, database_url: str, gone: int
) -> None:
    subscribe(parent, push_server.browser("phone", gone))
    assert subscription_count(database_url) == 1
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")
    drain(client)
    assert [d.status for d in push_server.to("phone")] == [gone]
    assert subscription_count(database_url) == 0


def test_busy_or_failing_push_services_are_tried_again_with_backoff(
    client: TestClient, parent: TestClient, push_server: PushService, database_url: str
) -> None:
    phone = push_server.browser("phone", 503, 429, 500, headers={"Retry-After": "0"})
    subscribe(parent, phone)
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")
    drain(client)
    deliveries = push_server.to("phone")
    assert [d.status for d in deliveries] == [503, 429, 500, 201]
    assert all(phone.decrypt(d)["state"] == "ready" for d in deliveries)
    assert subscription_count(database_url) == 1


def test_a_push_service_that_never_answers_is_given_up_on_then_tried_again(
    client: TestClient, parent: TestClient, push_server: PushService, settings: Settings
) -> None:
    services(client).push.timeout = 0.2  # this test's own patience
    phone = push_server.browser("phone", HANG)
    subscribe(parent, phone)
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")
    drain(client)
    assert [d.status for d in push_server.wait_for(2)][1] == 201


def test_a_hanging_push_service_does_not_delay_the_board_or_the_button(
    client: TestClient, staff: TestClient, parent: TestClient, push_server: PushService
) -> None:
    services(client).push.timeout = 30.0  # a push service that takes its time
    subscribe(parent, push_server.browser("phone", HANG, HANG), preparing=True)
    pickup = announce(client, status="announced")["id"]

    with board(staff) as (ws, seq):
        press(staff, pickup, "announced", "called")
        assert receive(ws)["seq"] > seq
        push_server.wait_for(1)  # the push service now holds « En préparation »
        started = time.perf_counter()
        press(staff, pickup, "called", "ready")
        answered = time.perf_counter() - started
        change = receive(ws)  # « Prêt » on the board
        on_board = time.perf_counter() - started
        assert change["seq"] > seq + 1
        held = push_server.wait_for(2)
        assert [d.status for d in held] == [None, None], "both pushes still held"
    # The figure the note quotes (pytest -rP shows it).
    print(
        f"push hanging: Prêt answered in {answered * 1000:.1f} ms, on the board in "
        f"{on_board * 1000:.1f} ms"
    )
    assert answered < 1.0 and on_board < 1.0, (answered, on_board)
    push_server.release.set()
    drain(client)


# -- the contract's refusals ------------------------------------------------------------------


def test_subscribing_needs_a_signed_in_parent_and_the_csrf_header(
    client: TestClient, parent: TestClient, push_server: PushService, database_url: str
) -> None:
    body = push_server.browser("phone").subscription()
    assert client.post(SUBSCRIPTIONS, json=body, headers=csrf(client)).status_code == 401
    refused = parent.post(SUBSCRIPTIONS, json=body)
    assert refused.status_code == 403
    assert "detail" in refused.json()
    assert subscription_count(database_url) == 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"endpoint": "ftp://push.example.org/x"}, "https://"),
        ({"endpoint": "x" * 1200}, "too long"),
        ({"keys": {"p256dh": "bm90IGEga2V5", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "P-256"),
        ({"keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "p256dh"),
        ({"preparing": "yes"}, "true or false"),
    ],
)
def test_a_bad_subscription_is_refused_in_plain_words(
    parent: TestClient, push_server: PushService, change: dict[str, Any], words: str
) -> None:
    body = {**push_server.browser("phone").subscription(), **change}
    parent.get("/parent?lang=en")
    refused = parent.post(SUBSCRIPTIONS, json=body, headers=csrf(parent))
    assert refused.status_code == 422
    assert words in refused.json()["detail"]


def test_http_endpoints_only_in_a_demo_and_never_inside_the_network(
    parent: TestClient,
    push_server: PushService,
    settings: Settings,
    clock: ManualClock,
    database_url: str,
) -> None:
    production = Settings(**{**settings.__dict__, "demo": False})
    with TestClient(create_app(production, clock=clock, background=False)) as client:
        browser = sign_in_as(client, database_url, "parent", PARENT)
        for endpoint in (
            push_server.browser("phone").endpoint,  # http://127.0.0.1:…
            "https://127.0.0.1/push",
            "https://10.0.0.7/push",
            "https://localhost/push",
        ):
            body = {**push_server.browser("phone").subscription(), "endpoint": endpoint}
            assert browser.post(SUBSCRIPTIONS, json=body, headers=csrf(browser)).status_code == 422
        body = {**push_server.browser("x").subscription(), "endpoint": "https://push.example.org/a"}
        assert browser.post(SUBSCRIPTIONS, json=body, headers=csrf(browser)).status_code == 201


def test_turning_off_deletes_this_browser_only(
    client: TestClient, parent: TestClient, push_server: PushService, database_url: str
) -> None:
    phone = push_server.browser("phone")
    subscribe(parent, phone)
    other = sign_in_as(another_browser(client), database_url, "parent", PARENT)
    tablet = push_server.browser("tablet")
    subscribe(other, tablet)
    assert subscription_count(database_url) == 2
    gone = parent.request(
        "DELETE", SUBSCRIPTIONS, json={"endpoint": phone.endpoint}, headers=csrf(parent)
    )
    assert gone.status_code == 204
    assert subscription_count(database_url) == 1
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")
    drain(client)
    assert push_server.to("phone") == [] and len(push_server.to("tablet")) == 1


def test_another_familys_parent_cannot_turn_off_a_phone(
    client: TestClient, parent: TestClient, push_server: PushService, database_url: str
) -> None:
    phone = push_server.browser("phone")
    subscribe(parent, phone)
    in_db(database_url, lambda session: beta(session, account_state="active"))
    stranger = sign_in_as(another_browser(client), database_url, "parent", B_PARENT)
    answer = stranger.request(
        "DELETE", SUBSCRIPTIONS, json={"endpoint": phone.endpoint}, headers=csrf(stranger)
    )
    assert answer.status_code == 204  # nothing said about whose it is
    assert subscription_count(database_url) == 1


def test_the_page_shows_what_this_device_turned_on(
    parent: TestClient, push_server: PushService
) -> None:
    page = parent.get("/parent").text
    assert 'id="push-on">' in page  # off by default
    assert "Me prévenir même si mon téléphone est verrouillé" in page
    subscribe(parent, push_server.browser("phone"), preparing=True)
    page = parent.get("/parent").text
    assert 'id="push-on" checked>' in page and 'id="push-preparing" checked>' in page


# -- a phone that stops being the parent's ----------------------------------------------------


def test_signing_out_deletes_the_phones_subscription(
    client: TestClient, parent: TestClient, push_server: PushService, database_url: str
) -> None:
    subscribe(parent, push_server.browser("phone"))
    assert subscription_count(database_url) == 1
    out = parent.post("/parent/logout", headers=csrf(parent), follow_redirects=False)
    assert out.status_code == 303
    assert subscription_count(database_url) == 0
    pickup = announce(client, status="announced")["id"]
    step(client, pickup, "called", "ready")
    drain(client)
    assert push_server.to("phone") == []


def test_revoking_an_authorized_adult_deletes_their_phones_subscription(
    client: TestClient, parent: TestClient, push_server: PushService, database_url: str
) -> None:
    invited = parent.post(
        "/parent/people",
        data={"first_name": "Gisèle", "last_name": "Roy", "email": "grand-maman@example.org"},
        headers=csrf(parent),
        follow_redirects=False,
    )
    assert invited.status_code == 303

    async def activate(session: AsyncSession) -> int:
        grandma = (
            await session.execute(
                select(Guardian).where(col(Guardian.email) == "grand-maman@example.org")
            )
        ).scalar_one()
        grandma.account_state = "active"
        assert grandma.id is not None
        return grandma.id

    grandma_id = in_db(database_url, activate)
    phone = sign_in_as(another_browser(client), database_url, "parent", "grand-maman@example.org")
    assert subscribe(phone, push_server.browser("grandma")).status_code == 201
    assert subscription_count(database_url) == 1
    revoked = parent.post(
        f"/parent/people/{grandma_id}/revoke", headers=csrf(parent), follow_redirects=False
    )
    assert revoked.status_code == 303
    assert subscription_count(database_url) == 0
