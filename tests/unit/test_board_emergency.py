"""The roll call on the boards: an emergency started in /admin reaches every open board and
wall display at once over their sockets; « Présent » on one tablet reaches the others;
a second press changes nothing; « Annuler » works for 10 seconds; a release offers only the
family's adults and refuses anyone else; the end takes the boards back."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from starlette.testclient import TestClient

from server.core.models import Child, Emergency, Guardian
from tests.helpers import (
    B_ADMIN,
    ORIGIN,
    another_browser,
    beta,
    board,
    csrf,
    demo_ids,
    in_db,
    page_text,
    receive,
    sign_in_as,
    submit,
)


def _start(client: TestClient, database_url: str, drill: bool = True) -> Emergency:
    ids = demo_ids(database_url)
    fields = {
        "installation_id": str(ids["ERA"]),
        "kind": "evacuation" if drill else "closure",
        "message": "Alarme",
        "assembly_point": "Parc",
    }
    if drill:
        fields["drill"] = "1"
    assert submit(client, "/admin/emergency", fields, follow_redirects=False).status_code == 303

    async def work(session: Any) -> Emergency:
        found: Emergency = (await session.scalars(select(Emergency))).one()
        return found

    return in_db(database_url, work)


def _row(database_url: str, model: type, external_id: str) -> Any:
    async def work(session: Any) -> Any:
        return (await session.scalars(select(model).filter_by(external_id=external_id))).one()

    return in_db(database_url, work)


def _press(client: TestClient, emergency: Emergency, child_id: int, what: str, **data: str) -> Any:
    path = f"/board/emergency/{emergency.id}/children/{child_id}/{what}"
    return client.post(path, data=data, headers={**csrf(client), "HX-Request": "true"})


def test_the_roll_reaches_every_board_and_checks_travel_between_tablets(
    client: TestClient, database_url: str, clock: Any
) -> None:
    director = sign_in_as(client, database_url, "admin", "direction@example.org")
    tablet = sign_in_as(another_browser(client), database_url, "reception", "accueil@example.org")
    lea = _row(database_url, Child, "C-LEA")
    with board(tablet, "group=all") as (ws, _seq):
        emergency = _start(director, database_url)
        started = receive(ws)
        assert "Urgence" in started["content"] and "Exercice d’évacuation" in started["content"]
        assert f'id="roll-{lea.id}"' in started["content"] and "Présent" in started["content"]
        answer = _press(director, emergency, lea.id, "present")
        assert answer.status_code == 200
        assert 'data-status="present"' in answer.text.split(f'id="roll-{lea.id}"')[1][:200]
        checked = receive(ws)
        assert checked["seq"] == started["seq"] + 1
        line = checked["content"].split(f'id="roll-{lea.id}"')[1].split("</li>")[0]
        assert 'data-status="present"' in line and "Annuler" in line
        # The second tablet's press, a moment later: nothing changes, no event.
        again = _press(tablet, emergency, lea.id, "present")
        assert again.status_code == 200 and 'data-status="present"' in again.text
        clock.advance(timedelta(seconds=9))
        assert _press(tablet, emergency, lea.id, "undo").status_code == 200
        undone = receive(ws)
        assert 'data-status="pending"' in undone["content"].split(f'id="roll-{lea.id}"')[1][:200]
        _press(tablet, emergency, lea.id, "present")
        receive(ws)
        clock.advance(timedelta(seconds=11))
        late = _press(tablet, emergency, lea.id, "undo")
        assert late.status_code == 409 and "Trop tard" in late.text
        ended = submit(director, f"/admin/emergency/{emergency.id}/end", follow_redirects=False)
        assert ended.status_code == 303
        back = receive(ws)
        assert 'class="emergency"' in back["content"]  # the region is empty again
        assert "emergency--on" not in back["content"]


def test_a_board_opened_during_an_emergency_shows_the_roll_in_page_and_snapshot(
    client: TestClient, database_url: str
) -> None:
    sign_in_as(client, database_url, "admin", "direction@example.org")
    _start(client, database_url)
    query = f"installation={demo_ids(database_url)['ERA']}&group=all"
    page = client.get(f"/board?{query}").text
    assert "emergency--on" in page and "Présent" in page
    with client.websocket_connect(f"/board/ws?{query}", headers=ORIGIN) as ws:
        snapshot = receive(ws)
        assert snapshot["snapshot"] and "emergency--on" in snapshot["content"]


def test_a_release_offers_only_the_family_and_refuses_a_stranger(
    client: TestClient, database_url: str
) -> None:
    sign_in_as(client, database_url, "admin", "direction@example.org")
    emergency = _start(client, database_url, drill=False)
    lea = _row(database_url, Child, "C-LEA")
    julie = _row(database_url, Guardian, "G-TREMBLAY")

    async def someone_else(session: Any) -> Any:
        return (
            await session.scalars(
                select(Guardian).where(
                    col(Guardian.external_id).not_in(["G-TREMBLAY", "A-TREMBLAY-DENISE"])
                )
            )
        ).first()

    other = in_db(database_url, someone_else)
    dialog = client.get(f"/board/emergency/{emergency.id}/children/{lea.id}/release")
    assert "Julie Tremblay" in dialog.text and "Denise Tremblay" in dialog.text
    assert other.full_name not in dialog.text
    assert "appelez la direction" in dialog.text
    refused = _press(client, emergency, lea.id, "release", handed_to=str(other.id))
    assert refused.status_code == 422 and "Appelez la direction" in refused.text
    released = _press(client, emergency, lea.id, "release", handed_to=str(julie.id))
    assert released.status_code == 200
    assert 'data-status="released"' in released.text.split(f'id="roll-{lea.id}"')[1][:200]


def test_another_organization_sees_nothing_of_an_emergency(
    client: TestClient, database_url: str
) -> None:
    """Ids of another organization's emergency read as unknown everywhere: its report, its
    end, its roll's buttons; and its installation's id cannot be used to start one."""
    in_db(database_url, beta)
    sign_in_as(client, database_url, "admin", "direction@example.org")
    emergency = _start(client, database_url)
    lea = _row(database_url, Child, "C-LEA")
    stranger = sign_in_as(another_browser(client), database_url, "admin", B_ADMIN)
    assert stranger.get(f"/admin/emergency/{emergency.id}").status_code == 404
    assert stranger.get(f"/admin/emergency/{emergency.id}.csv").status_code == 404
    ended = submit(stranger, f"/admin/emergency/{emergency.id}/end", follow_redirects=False)
    assert ended.status_code == 404
    assert _press(stranger, emergency, lea.id, "present").status_code == 404
    assert "Léa Tremblay" not in page_text(stranger, "/admin/emergency")
    era = str(demo_ids(database_url)["ERA"])
    fields = {"installation_id": era, "kind": "evacuation"}
    assert submit(stranger, "/admin/emergency", fields).status_code == 404
