"""Undo, dismiss and the Départ confirmation on the board, through the HTTP client and the
board socket as tablets use them; the release log records who the child was handed to."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient

from server.core.clock import ManualClock
from server.core.models import Guardian, PickupEvent
from tests.helpers import ORIGIN, another_browser, api_headers, csrf, in_db, login, receive
from tests.helpers import announce as send
from tests.unit.test_board_actions import (
    RECEPTION,
    api_present,
    api_status,
    french,
    press,
    text_of,
    transitions,
)


def announce(client: TestClient) -> int:
    """Léa's mother at 16:00 (the clock's time): an alert on the board at once."""
    pickup_id: int = send(client, status="announced")["id"]
    return pickup_id


def guardian_id(database_url: str, email: str) -> int:
    async def load(session: AsyncSession) -> int:
        found = await session.execute(select(col(Guardian.id)).where(col(Guardian.email) == email))
        value = found.scalar_one()
        assert value is not None
        return value

    return in_db(database_url, load)


def log_lines(database_url: str, pickup_id: int) -> list[PickupEvent]:
    async def load(session: AsyncSession) -> list[PickupEvent]:
        rows = await session.execute(
            select(PickupEvent)
            .where(col(PickupEvent.pickup_id) == pickup_id)
            .order_by(col(PickupEvent.id))
        )
        return list(rows.scalars().all())

    return in_db(database_url, load)


def undo(client: TestClient, pickup_id: int, from_: str) -> Any:
    return client.post(
        f"/board/pickups/{pickup_id}/undo", data={"from": from_}, headers=csrf(client)
    )


def to_ready(client: TestClient) -> int:
    pickup_id = announce(client)
    assert press(client, pickup_id, "announced", "called").status_code == 200
    assert press(client, pickup_id, "called", "ready").status_code == 200
    return pickup_id


def test_departure_is_confirmed_with_the_adult_and_logged_with_who_confirmed(
    client: TestClient, database_url: str
) -> None:
    login(client, RECEPTION)
    pickup_id = to_ready(client)
    julie = guardian_id(database_url, "parent@example.org")
    denise = guardian_id(database_url, "denise.tremblay@example.org")

    dialog = text_of(client.get(f"/board/pickups/{pickup_id}/release"))
    assert french("Handed to {name}?", name="Julie Tremblay") in dialog
    # The grandmother, authorized by Julie, can be picked instead, one tap.
    assert french("Handed to {name}", name="Denise Tremblay") in dialog
    assert dialog.index("Julie Tremblay") < dialog.index("Denise Tremblay")

    answer = client.post(
        f"/board/pickups/{pickup_id}/status",
        data={"from": "ready", "to": "departed", "handed_to": str(denise)},
        headers=csrf(client),
    )
    assert answer.status_code == 200
    departure = log_lines(database_url, pickup_id)[-1]
    assert (departure.to_status, departure.handed_to_id) == ("departed", denise)
    assert departure.handed_to_name == "Denise Tremblay"
    assert departure.actor_kind == "staff" and departure.actor_name == "Accueil"
    assert julie != denise


def test_departure_to_an_adult_outside_the_family_is_refused(
    client: TestClient, database_url: str
) -> None:
    login(client, RECEPTION)
    pickup_id = to_ready(client)
    stranger = guardian_id(database_url, "parent0001@example.org")
    answer = client.post(
        f"/board/pickups/{pickup_id}/status",
        data={"from": "ready", "to": "departed", "handed_to": str(stranger)},
        headers=csrf(client),
    )
    assert answer.status_code == 409
    assert french("This adult is not authorized to pick up this child.") in text_of(answer)
    assert api_status(client, pickup_id) == "ready"


def test_the_api_departure_is_handed_to_who_announced(
    client: TestClient, database_url: str
) -> None:
    login(client, RECEPTION)
    pickup_id = to_ready(client)
    done = client.post(
        f"/api/v1/pickups/{pickup_id}/status", headers=api_headers(), json={"status": "departed"}
    )
    assert done.status_code == 200
    assert log_lines(database_url, pickup_id)[-1].handed_to_name == "Julie Tremblay"


def test_undo_takes_a_step_back_once_for_ten_seconds(
    client: TestClient, clock: ManualClock, database_url: str
) -> None:
    login(client, RECEPTION)
    pickup_id = to_ready(client)
    other = another_browser(client)
    login(other, RECEPTION)

    clock.advance(timedelta(seconds=9))
    assert undo(client, pickup_id, "ready").status_code == 200
    # The other tablet pressed « Annuler » too: one transition, the board just shows it.
    late = undo(other, pickup_id, "ready")
    assert late.status_code == 200
    assert french("Already changed on another device: now {status}.", status="En préparation") in (
        text_of(late)
    )
    assert api_status(client, pickup_id) == "called"
    lines = log_lines(database_url, pickup_id)
    assert (lines[-1].from_status, lines[-1].to_status) == ("ready", "called")
    assert lines[-1].undo_of == lines[-2].id
    # An undo is not undone (no « redo » by the back door).
    refused = undo(client, pickup_id, "called")
    assert refused.status_code == 409

    assert press(client, pickup_id, "called", "ready").status_code == 200
    clock.advance(timedelta(seconds=11))
    too_late = undo(client, pickup_id, "ready")
    assert too_late.status_code == 409
    assert french("Too late to undo: a step can be undone for 10 seconds.") in text_of(too_late)
    assert api_status(client, pickup_id) == "ready"


def test_an_undone_departure_brings_the_child_and_the_alert_back(
    client: TestClient, database_url: str
) -> None:
    login(client, RECEPTION)
    pickup_id = to_ready(client)
    assert press(client, pickup_id, "ready", "departed").status_code == 200
    assert not api_present(client, "C-LEA")

    page = undo(client, pickup_id, "departed")
    assert page.status_code == 200
    assert f'id="pickup-{pickup_id}"' in page.text
    assert api_present(client, "C-LEA")
    assert api_status(client, pickup_id) == "ready"
    assert transitions(database_url, pickup_id)[-1] == ("departed", "ready")


def test_dismissing_an_alert_tells_the_parent_why_and_can_be_undone(
    client: TestClient, database_url: str
) -> None:
    login(client, RECEPTION)
    pickup_id = announce(client)
    reasons = text_of(client.get(f"/board/pickups/{pickup_id}/dismiss"))
    for label in (
        "Already gone home",
        "Child not at the daycare",
        "Announced by mistake or twice",
        "Other: we will call the parent",
    ):
        assert french(label) in reasons

    gone = client.post(
        f"/board/pickups/{pickup_id}/dismiss",
        data={"from": "announced", "reason": "mistake"},
        headers=csrf(client),
    )
    assert gone.status_code == 200
    assert f'id="pickup-{pickup_id}"' not in gone.text
    assert api_status(client, pickup_id) == "dismissed"
    line = log_lines(database_url, pickup_id)[-1]
    assert (line.from_status, line.to_status, line.reason) == ("announced", "dismissed", "mistake")

    parent = another_browser(client)
    parent.get("/parent/login")
    signed = parent.post(
        "/parent/login",
        data={
            "email": "parent@example.org",
            "password": "demo-relais-2026",
            "csrf_token": parent.cookies.get("relais_csrf"),
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    told = french("The daycare removed your announcement because it was made by mistake or twice.")
    assert told in text_of(parent.get("/parent"))

    assert undo(client, pickup_id, "dismissed").status_code == 200
    assert api_status(client, pickup_id) == "announced"
    assert told not in text_of(parent.get("/parent"))


def test_dismissing_needs_a_reason_and_an_alert_on_the_board(client: TestClient) -> None:
    login(client, RECEPTION)
    pickup_id = announce(client)
    no_reason = client.post(
        f"/board/pickups/{pickup_id}/dismiss",
        data={"from": "announced", "reason": "because"},
        headers=csrf(client),
    )
    assert no_reason.status_code == 422
    assert api_status(client, pickup_id) == "announced"


def test_every_board_of_the_group_is_offered_the_undo_then_it_is_withdrawn(
    client: TestClient,
) -> None:
    login(client, RECEPTION)
    pickup_id = announce(client)
    with client.websocket_connect("/board/ws", headers=ORIGIN) as ws:
        assert receive(ws)["snapshot"] is True
        assert press(client, pickup_id, "announced", "called").status_code == 200
        offered = receive(ws)
        assert f'id="undo-{pickup_id}"' in offered["content"]
        assert f"/board/pickups/{pickup_id}/undo" in offered["content"]
        assert offered["chime"] is False
        assert undo(client, pickup_id, "called").status_code == 200
        undone = receive(ws)
        # The offer is withdrawn, none made for the undo, and the alert back is no new one.
        assert f'<div id="undo-{pickup_id}" hx-swap-oob="delete">' in undone["content"]
        assert "beforeend:#undos" not in undone["content"]
        assert undone["chime"] is False


def test_an_alert_moved_into_a_groups_view_chimes_there(client: TestClient) -> None:
    educator = another_browser(client)
    login(educator, "educatrice@example.org")  # her board: Les Lutins
    login(client, RECEPTION)
    listed = client.get("/api/v1/children?installation_id=ERA", headers=api_headers()).json()
    child = next(c for c in listed if c["group_id"] == "ERA-EXP" and c["present"])
    with educator.websocket_connect("/board/ws?group=mine", headers=ORIGIN) as ws:
        assert receive(ws)["snapshot"] is True
        made = client.post(
            "/api/v1/pickups",
            headers=api_headers(),
            json={
                "child_id": child["id"],
                "guardian_id": child["guardian_ids"][0],
                "mode": "eta",
                "eta": "16:00",
            },
        )
        assert made.status_code == 201
        assert receive(ws)["chime"] is False  # another group's alert
        moved = client.patch(
            f"/api/v1/children/{child['id']}", headers=api_headers(), json={"group_id": "ERA-LUT"}
        )
        assert moved.status_code == 200
        arrived = receive(ws)
        assert arrived["chime"] is True
        assert f'id="pickup-{made.json()["id"]}"' in arrived["content"]


def test_the_board_shows_approved_photos_and_initials_otherwise(
    client: TestClient, database_url: str
) -> None:
    async def give_photo(session: AsyncSession) -> None:
        await session.execute(
            text("UPDATE guardian SET photo = 'abcdefghijkl.jpg' WHERE email = :email"),
            {"email": "parent@example.org"},
        )

    in_db(database_url, give_photo)
    login(client, RECEPTION)
    pickup_id = announce(client)
    page = text_of(client.get("/board"))
    julie = guardian_id(database_url, "parent@example.org")
    assert f'src="/photos/guardian/{julie}?v=abcdefgh"' in page
    assert french("Photo of {name}", name="Julie Tremblay") in page
    # Léa has no photo: her initials.
    card = page[page.index(f'id="pickup-{pickup_id}"') :]
    assert '<span class="face__img face__initials" aria-hidden="true">LT</span>' in card


def test_the_release_log_says_who_took_the_child_and_what_was_undone(
    client: TestClient, database_url: str
) -> None:
    import csv
    import io

    login(client, RECEPTION)
    pickup_id = to_ready(client)
    assert undo(client, pickup_id, "ready").status_code == 200
    assert press(client, pickup_id, "called", "ready").status_code == 200
    denise = guardian_id(database_url, "denise.tremblay@example.org")
    client.post(
        f"/board/pickups/{pickup_id}/status",
        data={"from": "ready", "to": "departed", "handed_to": str(denise)},
        headers=csrf(client),
    )
    admin = another_browser(client)
    login(admin, "direction@example.org")
    page = text_of(admin.get("/admin/log"))
    row = page[page.index(f'id="log-pickup-{pickup_id}"') :]
    row = row[: row.index("</tr>")]
    assert "Denise Tremblay" in row
    assert french("announced by {name}", name="Julie Tremblay") in row
    exported = list(csv.reader(io.StringIO(admin.get("/admin/log.csv").text.lstrip("\ufeff"))))
    header, line = exported[0], next(r for r in exported[1:] if r[0] == str(pickup_id))
    assert line[header.index(french("Handed to"))] == "Denise Tremblay"
    assert line[header.index(french("Steps undone"))] == "1"
