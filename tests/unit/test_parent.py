"""The parent page's actions through HTTP: announcing for one's own children only, changing
and cancelling, GPS positions, authorized pickup persons, and the live socket's rules."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from server.core.models import (
    Child,
    ChildGuardian,
    Guardian,
    OutboxMessage,
    Pickup,
    TripPosition,
)
from tests.helpers import (
    ORIGIN,
    another_browser,
    csrf,
    in_db,
    parent_login,
    submit,
)


def child_ids(database_url: str) -> dict[str, int]:
    async def load(session: AsyncSession) -> dict[str, int]:
        rows = await session.execute(select(col(Child.external_id), col(Child.id)))
        return {ext: cid for ext, cid in rows.all() if cid is not None}

    return in_db(database_url, load)


def pickups_of(database_url: str) -> list[tuple[int, str, str]]:
    async def load(session: AsyncSession) -> list[tuple[int, str, str]]:
        rows = await session.execute(
            select(col(Pickup.child_id), col(Pickup.status), col(Pickup.mode)).order_by(
                col(Pickup.id)
            )
        )
        return [(c, s, m) for c, s, m in rows.all()]

    return in_db(database_url, load)


def post(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    return client.post(path, data=data, headers={**csrf(client), "HX-Request": "true"})


@pytest.fixture
def ids(database_url: str) -> dict[str, int]:
    return child_ids(database_url)


def test_the_page_lists_my_children_with_installation_and_state(client: TestClient) -> None:
    parent_login(client)
    page = client.get("/parent")
    assert page.status_code == 200
    assert "Léa Tremblay" in page.text and "Noah Tremblay" in page.text
    assert "Pavillon des Érables" in page.text
    assert "Les Lutins" in page.text


def test_siblings_in_one_tap_and_a_forged_child_is_ignored(
    client: TestClient, database_url: str, ids: dict[str, int]
) -> None:
    parent_login(client)
    siblings_and_a_stranger = [str(ids["C-LEA"]), str(ids["C-NOAH"]), str(ids["C0001"])]
    answer = post(client, "/parent/announce", {"child_id": siblings_and_a_stranger, "eta": "16:30"})
    assert answer.status_code == 200
    made = pickups_of(database_url)
    assert sorted(child for child, _s, _m in made) == sorted([ids["C-LEA"], ids["C-NOAH"]])
    assert {status for _c, status, _m in made} == {"scheduled"}


def test_only_a_forged_child_announces_nothing(
    client: TestClient, database_url: str, ids: dict[str, int]
) -> None:
    parent_login(client)
    answer = post(client, "/parent/announce", {"child_id": str(ids["C0001"]), "in_minutes": "10"})
    assert answer.status_code == 200
    assert "notice--error" in answer.text
    assert pickups_of(database_url) == []


def test_refusals_are_in_plain_words_per_child(
    client: TestClient, database_url: str, ids: dict[str, int]
) -> None:
    parent_login(client)
    for bad in ("25:00", "abc", ""):
        answer = post(client, "/parent/announce", {"child_id": str(ids["C-LEA"]), "eta": bad})
        assert "17:45" in answer.text  # the message shows how to write a time
    assert pickups_of(database_url) == []


def test_change_time_then_cancel_and_not_someone_elses(
    client: TestClient, database_url: str, ids: dict[str, int]
) -> None:
    parent_login(client)
    post(client, "/parent/announce", {"child_id": str(ids["C-LEA"]), "eta": "16:30"})

    async def the_pickup(session: AsyncSession) -> Pickup:
        return (await session.execute(select(Pickup))).scalar_one()

    pickup = in_db(database_url, the_pickup)
    changed = post(client, f"/parent/pickups/{pickup.id}/time", {"eta": "16:02"})
    assert "16:02" in changed.text
    assert pickups_of(database_url)[0][1] == "announced"  # 16:02 − 5 min is past: at once
    cancelled = post(client, f"/parent/pickups/{pickup.id}/cancel", {})
    assert cancelled.status_code == 200
    assert pickups_of(database_url)[0][1] == "cancelled"

    # Another family's pickup (made through the API) is unknown to this parent.
    theirs = client.post(
        "/api/v1/pickups",
        headers={"Authorization": "Bearer demo-api-token"},
        json={"child_id": "C0001", "guardian_id": "G0001", "mode": "eta", "eta": "16:40"},
    ).json()
    assert post(client, f"/parent/pickups/{theirs['id']}/cancel", {}).status_code == 404
    assert post(client, "/parent/pickups/999999/cancel", {}).status_code == 404
    assert [s for _c, s, _m in pickups_of(database_url)] == ["cancelled", "scheduled"]


def test_gps_positions_with_impossible_values_are_refused_and_not_kept(
    client: TestClient, database_url: str, ids: dict[str, int]
) -> None:
    parent_login(client)
    assert post(client, "/parent/consent/location", {}).status_code == 204
    started = post(
        client,
        "/parent/trip/start",
        {"child_id": str(ids["C-LEA"]), "latitude": "46.90", "longitude": "-71.2082"},
    )
    assert started.status_code == 200
    assert pickups_of(database_url)[0][2] == "gps"
    for lat, lon in (("91", "-71"), ("nan", "-71"), ("46.8", "abc"), ("46.8", "-181")):
        refused = post(client, "/parent/trip/position", {"latitude": lat, "longitude": lon})
        assert refused.status_code == 422

    async def positions(session: AsyncSession) -> int:
        return int(
            (await session.execute(select(func.count()).select_from(TripPosition))).scalar_one()
        )

    assert in_db(database_url, positions) == 1
    assert post(client, "/parent/trip/stop", {}).status_code == 204
    assert in_db(database_url, positions) == 0


def test_an_authorized_person_can_announce_but_not_manage_and_is_revocable(
    client: TestClient, database_url: str, ids: dict[str, int]
) -> None:
    parent_login(client)
    monique = {"first_name": "Monique", "last_name": "Tremblay", "email": "grand-maman@example.org"}
    invited = submit(client, "/parent/people", monique, follow_redirects=False)
    assert invited.status_code == 303

    async def person(session: AsyncSession) -> tuple[Guardian, set[int], int]:
        grandma = (
            await session.execute(
                select(Guardian).where(col(Guardian.email) == "grand-maman@example.org")
            )
        ).scalar_one()
        links = set(
            (
                await session.execute(
                    select(col(ChildGuardian.child_id)).where(
                        col(ChildGuardian.guardian_id) == grandma.id
                    )
                )
            ).scalars()
        )
        mails = (
            await session.execute(
                select(func.count()).where(col(OutboxMessage.to) == "grand-maman@example.org")
            )
        ).scalar_one()
        return grandma, links, int(mails)

    grandma, links, mails = in_db(database_url, person)
    assert grandma.kind == "authorized"
    assert links == {ids["C-LEA"], ids["C-NOAH"]}
    assert mails == 1  # the invitation (no SMTP configured: the outbox)

    # Give her a password as the activation link would, then sign in as her.
    from server.core.security import hash_password

    async def activate(session: AsyncSession) -> None:
        g = await session.get(Guardian, grandma.id)
        assert g is not None
        g.password_hash = hash_password("grand-maman-2026")
        g.account_state = "active"

    in_db(database_url, activate)
    phone = another_browser(client)
    parent_login(phone, "grand-maman@example.org", "grand-maman-2026")
    made = post(phone, "/parent/announce", {"child_id": str(ids["C-LEA"]), "eta": "16:30"})
    assert made.status_code == 200
    assert pickups_of(database_url)[0][0] == ids["C-LEA"]
    forbidden = post(
        phone,
        "/parent/people",
        {"first_name": "X", "last_name": "Y", "email": "x@example.org"},
    )
    assert forbidden.status_code == 403

    revoked = submit(client, f"/parent/people/{grandma.id}/revoke", follow_redirects=False)
    assert revoked.status_code == 303
    assert in_db(database_url, person)[1] == set()
    # Her session ended with the last link: the page sends her to sign in.
    assert phone.get("/parent", follow_redirects=False).status_code == 303


def test_the_live_socket_needs_a_parent_session_and_the_right_origin(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/parent/ws", headers=ORIGIN):
        pass
    parent_login(client)
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/parent/ws", headers={"origin": "http://evil.example"}),
    ):
        pass
    with client.websocket_connect("/parent/ws", headers=ORIGIN) as ws:
        first = ws.receive_json()
        assert first["family"] is True
        assert "Léa Tremblay" in first["content"]
