"""The board's buttons and the staff session, through the HTTP client as a tablet uses them.

Expected texts come from the translation catalogue (French by default), so these tests check
what the board shows whatever the current wording.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.core.i18n import _, use_locale
from server.core.models import Attendance, Child, PickupEvent, SignInSession, StaffUser
from server.core.security import new_csrf_token
from server.core.settings import Settings
from server.pickups.messages import refusal_message, status_label
from server.pickups.rules import Refusal, RuleError
from server.realtime.hub import CLOSE_SESSION_ENDED
from tests.helpers import (
    ORIGIN,
    announce,
    api_headers,
    board,
    csrf,
    in_db,
    login,
    receive,
    sign_in_form,
)

EDUCATOR = "educatrice@example.org"
RECEPTION = "accueil@example.org"


def text_of(response: Any) -> str:
    return html.unescape(response.text)


def french(message: str, **fields: str) -> str:
    with use_locale("fr_CA"):
        return _(message).format(**fields)


def api_status(client: TestClient, pickup_id: int) -> str:
    listed = client.get("/api/v1/pickups", headers=api_headers()).json()
    return str(next(p["status"] for p in listed if p["id"] == pickup_id))


def api_present(client: TestClient, external_id: str) -> bool:
    listed = client.get("/api/v1/children", headers=api_headers()).json()
    return bool(next(c["present"] for c in listed if c["id"] == external_id))


def transitions(database_url: str, pickup_id: int) -> list[tuple[str | None, str]]:
    async def load(session: AsyncSession) -> list[tuple[str | None, str]]:
        rows = await session.execute(
            select(col(PickupEvent.from_status), col(PickupEvent.to_status))
            .where(col(PickupEvent.pickup_id) == pickup_id)
            .order_by(col(PickupEvent.id))
        )
        return [(a, b) for a, b in rows.all()]

    return in_db(database_url, load)


def alert_html(page: str, pickup_id: int) -> str:
    match = re.search(rf'<li class="alert[^"]*" id="pickup-{pickup_id}".*?</li>', page, re.S)
    assert match, f"alert {pickup_id} is on the board"
    return match.group(0)


def press(
    client: TestClient, pickup_id: int, from_: str, to: str, headers: dict[str, str] | None = None
) -> Any:
    return client.post(
        f"/board/pickups/{pickup_id}/status",
        data={"from": from_, "to": to},
        headers=csrf(client) if headers is None else headers,
    )


# -- buttons -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-header"),
        pytest.param({"X-CSRF-Token": "forged.0123456789abcdef0123456789abcdef"}, id="forged"),
    ],
)
def test_button_without_valid_csrf_is_403_and_changes_nothing(
    client: TestClient, database_url: str, headers: dict[str, str]
) -> None:
    pickup_id = announce(client, status="announced")["id"]
    login(client, EDUCATOR)
    response = press(client, pickup_id, "announced", "called", headers=headers)
    assert response.status_code == 403
    assert french(
        "This form has expired or did not come from Relais. Reload the page and try again."
    ) in text_of(response)
    assert api_status(client, pickup_id) == "announced"
    assert transitions(database_url, pickup_id) == [(None, "announced")]


def test_csrf_token_of_another_visitor_does_not_help(
    client: TestClient, settings: Settings
) -> None:
    """Double submit: the header must match *this* browser's cookie, not any valid token."""
    pickup_id = announce(client, status="announced")["id"]
    login(client, EDUCATOR)
    foreign_token = new_csrf_token(settings.secret_key)  # validly signed, someone else's
    assert foreign_token != client.cookies.get("relais_csrf")
    response = press(
        client, pickup_id, "announced", "called", headers={"X-CSRF-Token": foreign_token}
    )
    assert response.status_code == 403
    assert api_status(client, pickup_id) == "announced"


@pytest.mark.parametrize("email", [EDUCATOR, RECEPTION])
def test_each_step_with_csrf_shows_the_new_state(
    client: TestClient, database_url: str, email: str
) -> None:
    pickup_id = announce(client, status="announced")["id"]
    login(client, email)
    steps = [("announced", "called"), ("called", "ready"), ("ready", "departed")]
    for from_, to in steps[:2]:
        response = press(client, pickup_id, from_, to)
        assert response.status_code == 200, response.text
        alert = alert_html(text_of(response), pickup_id)
        assert f'data-status="{to}"' in alert
        with use_locale("fr_CA"):
            assert status_label(to) in alert
        assert "Léa Tremblay" in alert
    # Départ: the alert leaves the board and Léa is listed as gone home.
    response = press(client, pickup_id, "ready", "departed")
    assert response.status_code == 200
    page = text_of(response)
    assert f'id="pickup-{pickup_id}"' not in page
    assert re.search(
        r'class="child child--departed"[^>]*>\s*<span[^>]*>LT</span>\s*'
        r'<span class="child__name">Léa Tremblay</span>',
        page,
    )
    assert api_status(client, pickup_id) == "departed"
    assert api_present(client, "C-LEA") is False
    assert transitions(database_url, pickup_id) == [(None, "announced"), *steps]


def test_buttons_are_labelled_in_french_then_english(client: TestClient) -> None:
    pickup_id = announce(client, status="announced")["id"]
    login(client, EDUCATOR)
    alert = alert_html(text_of(client.get("/board")), pickup_id)
    for label in ("Appeler", "Prêt", "Départ"):
        assert f">{label}</button>" in alert
    alert = alert_html(text_of(client.get("/board?lang=en")), pickup_id)
    for label in ("Call", "Ready", "Departed"):
        assert f">{label}</button>" in alert


def test_skipped_step_is_409_with_a_readable_message(client: TestClient, database_url: str) -> None:
    pickup_id = announce(client, status="announced")["id"]
    login(client, RECEPTION)
    response = press(client, pickup_id, "announced", "ready")
    assert response.status_code == 409
    with use_locale("fr_CA"):
        expected = refusal_message(RuleError(Refusal.NOT_NEXT_STEP))
    assert expected in text_of(response)
    # The same refusal as an htmx toast.
    toast = client.post(
        f"/board/pickups/{pickup_id}/status",
        data={"from": "announced", "to": "departed"},
        headers={**csrf(client), "HX-Request": "true"},
    )
    assert toast.status_code == 409
    assert toast.headers["HX-Retarget"] == "#toast"
    assert expected in text_of(toast)
    assert api_status(client, pickup_id) == "announced"
    assert transitions(database_url, pickup_id) == [(None, "announced")]


@pytest.mark.parametrize(
    "form",
    [
        pytest.param({"from": "announced", "to": "announced"}, id="to-not-a-button"),
        pytest.param({"from": "announced", "to": "teleported"}, id="unknown-to"),
        pytest.param({"to": "called"}, id="missing-from"),
    ],
)
def test_unknown_step_is_422(client: TestClient, form: dict[str, str]) -> None:
    pickup_id = announce(client, status="announced")["id"]
    login(client, RECEPTION)
    response = client.post(f"/board/pickups/{pickup_id}/status", data=form, headers=csrf(client))
    assert response.status_code == 422
    assert french("Unknown step.") in text_of(response)
    assert api_status(client, pickup_id) == "announced"


def test_same_press_twice_records_one_transition_and_says_so(
    client: TestClient, database_url: str
) -> None:
    pickup_id = announce(client, status="announced")["id"]
    login(client, EDUCATOR)
    first = press(client, pickup_id, "announced", "called")
    second = press(client, pickup_id, "announced", "called")  # the other tablet, same view
    assert first.status_code == 200
    assert second.status_code == 200
    with use_locale("fr_CA"):
        note = _("Already done on another device: now {status}.").format(
            status=status_label("called")
        )
    assert note not in text_of(first)
    assert note in text_of(second)
    assert 'data-status="called"' in alert_html(text_of(second), pickup_id)
    assert transitions(database_url, pickup_id) == [(None, "announced"), ("announced", "called")]


def test_already_done_note_in_english_after_switching(
    client: TestClient, database_url: str
) -> None:
    pickup_id = announce(client, status="announced")["id"]
    login(client, EDUCATOR)
    assert client.get("/board?lang=en").status_code == 200  # sets the language cookie
    press(client, pickup_id, "announced", "called")
    second = press(client, pickup_id, "announced", "called")
    assert second.status_code == 200
    assert "Already done on another device: now Being prepared." in text_of(second)
    assert len(transitions(database_url, pickup_id)) == 2


def _child_ids(database_url: str, *external: str) -> dict[str, int]:
    async def load(session: AsyncSession) -> dict[str, int]:
        rows = await session.execute(
            select(col(Child.external_id), col(Child.id)).where(
                col(Child.external_id).in_(external)
            )
        )
        return {ext: cid for ext, cid in rows.all() if cid is not None}

    return in_db(database_url, load)


def test_check_in_of_a_child_not_arrived_yet(client: TestClient, database_url: str) -> None:
    cid = _child_ids(database_url, "C0003")["C0003"]

    async def never_came(session: AsyncSession) -> None:
        await session.execute(delete(Attendance).where(col(Attendance.child_id) == cid))

    in_db(database_url, never_came)
    login(client, EDUCATOR)
    page = text_of(client.get("/board"))
    assert re.search(rf'class="child child--absent" id="child-{cid}"', page)
    assert f"/board/children/{cid}/check-in" in page
    assert api_present(client, "C0003") is False

    response = client.post(f"/board/children/{cid}/check-in", headers=csrf(client))
    assert response.status_code == 200
    live = text_of(response)
    assert re.search(rf'<li class="child" id="child-{cid}"', live)
    assert not re.search(rf'class="child child--absent" id="child-{cid}"', live)
    assert f"/board/children/{cid}/check-in" not in live
    assert api_present(client, "C0003") is True

    # A second press (another tablet) changes nothing and is not an error.
    again = client.post(f"/board/children/{cid}/check-in", headers=csrf(client))
    assert again.status_code == 200
    assert api_present(client, "C0003") is True


def test_check_in_of_a_child_marked_absent_by_the_management_system(
    client: TestClient, database_url: str
) -> None:
    marked = client.post(
        "/api/v1/attendance", headers=api_headers(), json={"child_id": "C0002", "present": False}
    )
    assert marked.status_code == 200
    cid = _child_ids(database_url, "C0002")["C0002"]
    login(client, RECEPTION)
    page = text_of(client.get("/board"))
    assert not re.search(rf'<li class="child" id="child-{cid}"', page)  # not among the present
    response = client.post(f"/board/children/{cid}/check-in", headers=csrf(client))
    assert response.status_code == 200
    assert re.search(rf'<li class="child" id="child-{cid}"', text_of(response))
    assert api_present(client, "C0002") is True


def test_check_in_needs_csrf(client: TestClient, database_url: str) -> None:
    client.post(
        "/api/v1/attendance", headers=api_headers(), json={"child_id": "C0002", "present": False}
    )

    cid = _child_ids(database_url, "C0002")["C0002"]
    login(client, EDUCATOR)
    assert client.post(f"/board/children/{cid}/check-in").status_code == 403
    assert api_present(client, "C0002") is False


# -- sign-in, sign-out -----------------------------------------------------------------------------


def failed_login(client: TestClient, email: str, password: str) -> Any:
    return sign_in_form(client, "/login", email, password)


def test_wrong_password_unknown_email_and_disabled_account_get_one_message(
    client: TestClient, database_url: str
) -> None:
    async def disable(session: AsyncSession) -> None:
        await session.execute(
            update(StaffUser)
            .where(col(StaffUser.email) == "direction@example.org")
            .values(active=False)
        )

    in_db(database_url, disable)
    message = french("Wrong email or password, or the account is disabled.")
    answers = [
        failed_login(client, EDUCATOR, "not-the-password"),
        failed_login(client, "nobody@example.org", "demo-relais-2026"),
        failed_login(client, "direction@example.org", "demo-relais-2026"),
    ]
    for response in answers:
        assert response.status_code == 400
        errors = re.findall(r'<p class="form-error"[^>]*>(.*?)</p>', text_of(response), re.S)
        assert errors == [message]
        assert "relais_session" not in response.headers.get("set-cookie", "")
    assert client.get("/board", follow_redirects=False).status_code == 303


def test_login_without_csrf_is_refused(client: TestClient) -> None:
    response = client.post(
        "/login",
        data={"email": EDUCATOR, "password": "demo-relais-2026"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert client.get("/board", follow_redirects=False).status_code == 303


def test_logout_ends_the_session_and_closes_the_open_board(client: TestClient) -> None:
    login(client, EDUCATOR)
    old_cookie = client.cookies.get("relais_session")
    assert old_cookie
    with client.websocket_connect("/board/ws", headers=ORIGIN) as ws:
        assert receive(ws)["snapshot"] is True
        response = client.post(
            "/logout", data={"csrf_token": csrf(client)["X-CSRF-Token"]}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
        assert closed.value.code == CLOSE_SESSION_ENDED == 4001

    assert client.get("/board", follow_redirects=False).status_code == 303
    # The old cookie, replayed (a copy kept elsewhere), no longer opens the board either.
    client.cookies.set("relais_session", old_cookie)
    replay = client.get("/board", follow_redirects=False)
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/login")
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/board/ws", headers=ORIGIN),
    ):
        pass
    assert refused.value.code == 1008


def test_logout_only_closes_that_session(client: TestClient) -> None:
    """The reception tablet stays live when the educator signs out."""
    login(client, RECEPTION)
    reception_cookie = client.cookies.get("relais_session")
    with client.websocket_connect("/board/ws", headers=ORIGIN) as ws:
        first = receive(ws)
        client.cookies.delete("relais_session")
        login(client, EDUCATOR)
        assert client.cookies.get("relais_session") != reception_cookie
        client.post("/logout", data={"csrf_token": csrf(client)["X-CSRF-Token"]})
        ws.send_json({"type": "snapshot"})
        again = receive(ws)
        assert again["snapshot"] is True and again["seq"] == first["seq"]
    client.cookies.set("relais_session", reception_cookie or "")
    assert client.get("/board", follow_redirects=False).status_code == 200


def test_disabled_account_loses_its_existing_session(client: TestClient, database_url: str) -> None:
    login(client, EDUCATOR)
    assert client.get("/board").status_code == 200
    pickup_id = announce(client, status="announced")["id"]

    async def disable(session: AsyncSession) -> None:
        await session.execute(
            update(StaffUser).where(col(StaffUser.email) == EDUCATOR).values(active=False)
        )

    in_db(database_url, disable)
    response = client.get("/board", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    pressed = press(client, pickup_id, "announced", "called")
    assert pressed.url.path == "/login"  # redirected to sign in, nothing done
    assert api_status(client, pickup_id) == "announced"
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/board/ws", headers=ORIGIN),
    ):
        pass
    assert refused.value.code == 1008

    async def sessions_left(session: AsyncSession) -> int:
        educators = select(col(StaffUser.id)).where(col(StaffUser.email) == EDUCATOR)
        theirs = col(SignInSession.account_id).in_(educators)
        count = select(func.count()).where(col(SignInSession.kind) == "staff", theirs)
        return int((await session.execute(count)).scalar_one())

    assert in_db(database_url, sessions_left) == 0


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("https://evil.example", id="absolute"),
        pytest.param("//evil.example/board", id="scheme-relative"),
        pytest.param("https://testserver.evil.example/", id="lookalike"),
        pytest.param("javascript:alert(1)", id="javascript"),
    ],
)
def test_login_next_never_leaves_the_site(client: TestClient, target: str) -> None:
    page = client.get("/login", params={"next": target})
    assert page.status_code == 200
    response = login(client, EDUCATOR, next=target)
    assert response.status_code == 303
    assert response.headers["location"] == "/board"
    # Already signed in: the login page sends you on, but not outside either.
    again = client.get("/login", params={"next": target}, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"] == "/board"


def test_login_next_inside_the_site_is_kept(client: TestClient) -> None:
    response = login(client, "direction@example.org", next="/admin")
    assert response.headers["location"] == "/admin"


def test_login_next_with_backslash_does_not_leave_the_site(client: TestClient) -> None:
    response = login(client, EDUCATOR, next="/\\evil.example")
    assert response.headers["location"] == "/board"


def test_a_button_answer_carries_the_seq_of_its_own_change(client: TestClient) -> None:
    """The pressing tablet's answer says which change it shows: the same number its socket
    gets for that change, so the board neither resyncs for nothing nor keeps a stale view."""
    pickup_id = announce(client, status="announced")["id"]
    login(client, "accueil@example.org")
    with board(client) as (ws, _seq):
        response = press(client, pickup_id, "announced", "called")
        assert response.status_code == 200
        answered = int(re.findall(r'data-seq="(\d+)"', text_of(response))[0])
        assert receive(ws)["seq"] == answered
