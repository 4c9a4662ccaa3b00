"""The board WebSocket: sequence numbers without gaps, snapshots on request, which view
chimes, alerts following a moved child, and the Origin check. Real sockets, no sleeps: a
snapshot request queues behind every pending event, so it marks "nothing else was sent"."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from server.core.models import Child, Installation
from server.pickups.attendance import mark_absent
from server.pickups.events import BoardEvent
from server.realtime.hub import REORDER_WAIT
from server.services import Services
from tests.helpers import (
    ERABLES,
    announce,
    api_headers,
    board,
    demo_ids,
    in_db,
    login,
    receive,
    send_announcement,
)

RECEPTION = "accueil@example.org"
EDUCATOR = "educatrice@example.org"


def settle(ws: WebSocketTestSession) -> list[dict[str, Any]]:
    """Every message still on its way to this socket, then the snapshot asked for here."""
    ws.send_json({"type": "snapshot"})
    received: list[dict[str, Any]] = []
    while not (message := receive(ws)).get("snapshot"):
        received.append(message)
    received.append(message)
    return received


def api(client: TestClient, method: str, path: str, body: dict[str, Any]) -> None:
    response = client.request(method, f"/api/v1{path}", headers=api_headers(), json=body)
    assert response.status_code in {200, 201}, response.text


def alert_in(content: str, pickup_id: int) -> str | None:
    match = re.search(rf'<li class="alert[^"]*" id="pickup-{pickup_id}".*?</li>', content, re.S)
    return match.group(0) if match else None


def test_each_change_is_one_message_in_sequence(client: TestClient) -> None:
    login(client, RECEPTION)
    with board(client) as (ws, start):
        lea = announce(client, "C-LEA", "G-TREMBLAY")  # due now: on the board
        message = receive(ws)
        assert message["seq"] == start + 1
        assert message["chime"] is True
        alert = alert_in(message["content"], lea["id"])
        assert alert and "Léa Tremblay" in alert and 'data-status="announced"' in alert

        upcoming = announce(client, "C0015", "G0015", eta="16:45")  # later: upcoming only
        assert upcoming["status"] == "scheduled"
        scheduled = receive(ws)
        api(client, "POST", f"/pickups/{lea['id']}/status", {"status": "called"})
        called = receive(ws)
        api(client, "POST", "/attendance", {"child_id": "C0004", "present": False})
        checked_out = receive(ws)
        api(client, "PATCH", "/children/C-NOAH", {"group_id": "ERA-HIB"})
        moved = receive(ws)
        api(client, "POST", f"/pickups/{lea['id']}/status", {"status": "ready"})
        ready = receive(ws)
        events = [scheduled, called, checked_out, moved, ready]

        *rest, snapshot = settle(ws)
        assert rest == []  # one message per change, nothing more
        # Each change waited for on its own: one message each, in sequence, no gap.
        assert [(m["from"], m["seq"]) for m in events] == [
            (start + n, start + n) for n in range(2, 7)
        ]
        assert snapshot["seq"] == start + 6
        assert not any(m.get("snapshot") for m in events)
        assert scheduled["chime"] is False  # a scheduled arrival does not chime yet
        assert f'id="upcoming-{upcoming["id"]}"' in scheduled["content"]
        assert not alert_in(scheduled["content"], upcoming["id"])
        called_alert = alert_in(called["content"], lea["id"])
        assert called_alert and 'data-status="called"' in called_alert
        ready_alert = alert_in(ready["content"], lea["id"])
        assert ready_alert and 'data-status="ready"' in ready_alert
        assert all(m["chime"] is False for m in events)


def publish_in_app(client: TestClient, work: Callable[[Services], Awaitable[None]]) -> None:
    """Run `work` on the app's own loop, as a request would."""

    async def run() -> None:
        await work(client.app.state.services)  # type: ignore[attr-defined]

    client.portal.call(run)  # type: ignore[union-attr]


def test_changes_waiting_together_go_out_as_one_message(
    client: TestClient, database_url: str
) -> None:
    """Under load the channel takes every change already waiting and sends one message
    covering them (seq `from` to `seq`): one render per view, not one each. It carries only
    the rows that changed: three children gone home, each group's counters."""
    ids = demo_ids(database_url)
    login(client, RECEPTION)
    with board(client) as (ws, start):
        gone = present_children(client, ("ERA-LUT", "ERA-EXP", "ERA-HIB"))

        async def three_at_once(svc: Services) -> None:
            await svc.publish(await absences(svc, gone))

        publish_in_app(client, three_at_once)
        message = receive(ws)
        assert (message["from"], message["seq"]) == (start + 1, start + 3)
        for child in gone:  # each child's row, placed in its group's "gone home" list
            assert child_placed(message["content"], child["internal_id"]) in {
                f"departed-{ids[child['group_id']]}",
                f"group-{ids[child['group_id']]}",  # the list appeared: its section whole
            }
        assert 'id="alerts"' not in message["content"]  # nothing else is redrawn
        *rest, snapshot = settle(ws)
        assert rest == [] and snapshot["seq"] == start + 3


def test_an_event_published_out_of_order_is_waited_for(
    client: TestClient, database_url: str
) -> None:
    """Two requests commit in seq order but may publish in the other: the board still gets
    the changes in order, without a gap (so without a needless resync), each applied from
    the rows its event carries."""
    login(client, RECEPTION)
    with board(client) as (ws, start):
        events: list[BoardEvent] = []
        children = present_children(client, ("ERA-LUT", "ERA-EXP", "ERA-HIB"))

        async def first_alone(svc: Services) -> None:
            events.extend(await absences(svc, children))
            assert all(e.child is not None for e in events)  # applied, not reloaded
            await svc.publish(events[:1])

        async def later_one_overtakes(svc: Services) -> None:
            await svc.publish(events[2:])
            # The race itself: a request publishing a moment late, inside the reorder wait.
            await asyncio.sleep(REORDER_WAIT / 5)  # wait-ok
            await svc.publish(events[1:2])

        publish_in_app(client, first_alone)
        first = receive(ws)  # sent: the channel now expects the next number
        assert (first["from"], first["seq"]) == (start + 1, start + 1)
        assert child_placed(first["content"], children[0]["internal_id"])
        publish_in_app(client, later_one_overtakes)
        rest = receive(ws)
        assert (rest["from"], rest["seq"]) == (start + 2, start + 3)
        for child in children[1:]:
            assert child_placed(rest["content"], child["internal_id"])
        *more, snapshot = settle(ws)
        assert more == [] and snapshot["seq"] == start + 3


def test_snapshot_on_request_has_the_latest_seq(client: TestClient) -> None:
    login(client, RECEPTION)
    page_seq = int(re.findall(r'data-seq="(\d+)"', client.get("/board").text)[0])
    with board(client) as (ws, start):
        assert start == page_seq  # the page and the socket agree
        lea = announce(client, "C-LEA", "G-TREMBLAY")
        api(client, "POST", f"/pickups/{lea['id']}/status", {"status": "called"})
        *events, snapshot = settle(ws)
        assert [m["seq"] for m in events] == [start + 1, start + 2]
        assert snapshot["seq"] == start + 2
        assert alert_in(snapshot["content"], lea["id"])
        # Asked again with nothing new: the same seq, still no gap.
        assert settle(ws) == [{**snapshot}]
    # A board that reconnects starts from the latest seq.
    with board(client) as (_ws, restart):
        assert restart == start + 2
    page_seq = int(re.findall(r'data-seq="(\d+)"', client.get("/board").text)[0])
    assert page_seq == start + 2


def test_only_the_view_that_shows_the_alert_chimes(client: TestClient) -> None:
    login(client, RECEPTION)
    with board(client, "group=all") as (reception, r_start):
        client.cookies.delete("relais_session")
        login(client, EDUCATOR)
        with board(client, "group=mine") as (educator, e_start):
            assert r_start == e_start
            noah = announce(client, "C-NOAH", "G-TREMBLAY")  # Les Explorateurs
            r_msg, e_msg = receive(reception), receive(educator)
            assert r_msg["seq"] == e_msg["seq"] == r_start + 1
            assert r_msg["chime"] is True
            assert alert_in(r_msg["content"], noah["id"])
            assert e_msg["chime"] is False
            assert not alert_in(e_msg["content"], noah["id"])
            assert "Noah Tremblay" not in e_msg["content"]

            lea = announce(client, "C-LEA", "G-TREMBLAY")  # Les Lutins: both boards
            r_msg, e_msg = receive(reception), receive(educator)
            assert r_msg["seq"] == e_msg["seq"] == r_start + 2
            assert r_msg["chime"] is True and e_msg["chime"] is True
            assert alert_in(e_msg["content"], lea["id"])

            # A step is not a new arrival: nobody chimes.
            api(client, "POST", f"/pickups/{lea['id']}/status", {"status": "called"})
            r_msg, e_msg = receive(reception), receive(educator)
            assert r_msg["chime"] is False and e_msg["chime"] is False
            assert settle(educator)[-1]["seq"] == r_start + 3
        assert settle(reception)[-1]["seq"] == r_start + 3


def test_alert_follows_a_child_moved_to_another_group(
    client: TestClient, database_url: str
) -> None:
    ids = demo_ids(database_url)
    login(client, RECEPTION)
    lutins = f"installation={ids['ERA']}&group={ids['ERA-LUT']}"
    hiboux = f"installation={ids['ERA']}&group={ids['ERA-HIB']}"
    with board(client, lutins) as (old_view, start), board(client, hiboux) as (new_view, _):
        lea = announce(client, "C-LEA", "G-TREMBLAY")
        lea["child_internal_id"] = child_ids(database_url)["C-LEA"]
        on_old, on_new = receive(old_view), receive(new_view)
        assert alert_in(on_old["content"], lea["id"])
        assert on_old["chime"] is True
        assert not alert_in(on_new["content"], lea["id"])
        assert on_new["chime"] is False

        api(client, "PATCH", "/children/C-LEA", {"group_id": "ERA-HIB"})
        on_old, on_new = receive(old_view), receive(new_view)
        assert on_old["seq"] == on_new["seq"] == start + 2
        assert not alert_in(on_old["content"], lea["id"])
        moved = alert_in(on_new["content"], lea["id"])
        assert moved and "Les Hiboux" in moved
        # The group sections follow too: Léa is listed under Les Hiboux now, and only
        # her row is sent, not the whole section.
        assert "Léa Tremblay" not in on_old["content"]
        assert 'id="child-' in on_old["content"]  # her row leaves Les Lutins
        assert child_placed(on_new["content"], lea["child_internal_id"]) == (
            f"present-{ids['ERA-HIB']}"
        )

        # A fresh snapshot of each view agrees.
        assert not alert_in(settle(old_view)[-1]["content"], lea["id"])
        assert alert_in(settle(new_view)[-1]["content"], lea["id"])


def test_display_view_has_no_buttons(client: TestClient) -> None:
    """A wall display receives the same alerts, without the staff buttons."""
    login(client, "direction@example.org")
    page = client.get("/admin/displays").text
    era_option = re.search(r'<option value="(\d+)">Pavillon des Érables</option>', page)
    assert era_option
    created = client.post(
        "/admin/displays",
        data={
            "name": "Hall",
            "installation_id": era_option.group(1),
            "group_id": "all",
            "csrf_token": client.cookies.get("relais_csrf") or "",
        },
    )
    token = re.search(r"/display/([A-Za-z0-9_-]+)", created.text)
    assert token
    staff_view = f"installation={era_option.group(1)}&group=all"
    with (
        board(client, f"display={token.group(1)}") as (wall, start),
        board(client, staff_view) as (staff, _),
    ):
        lea = announce(client, "C-LEA", "G-TREMBLAY")
        on_wall, on_staff = receive(wall), receive(staff)
        assert on_wall["seq"] == on_staff["seq"] == start + 1
        wall_alert, staff_alert = (
            alert_in(on_wall["content"], lea["id"]),
            alert_in(on_staff["content"], lea["id"]),
        )
        assert wall_alert and staff_alert
        assert "hx-post" not in wall_alert
        assert "hx-post" in staff_alert


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param({"origin": "http://testserver.evil.example"}, id="lookalike-origin"),
        pytest.param({"origin": "null"}, id="null-origin"),
        pytest.param({}, id="no-origin"),
    ],
)
def test_handshake_from_another_origin_is_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    login(client, RECEPTION)
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/board/ws", headers=headers),
    ):
        pass
    assert refused.value.code == 1008
    # The same session from the right origin is accepted: the Origin made the difference.
    with board(client) as (_ws, seq):
        assert seq > 0


def test_unknown_messages_from_the_board_are_ignored(client: TestClient) -> None:
    login(client, RECEPTION)
    with board(client) as (ws, start):
        ws.send_json({"type": "dance"})
        ws.send_json([1, 2, 3])
        ws.send_text("not json at all")
        ws.send_bytes(b"\xff\xfe binary")
        lea = announce(client, "C-LEA", "G-TREMBLAY")
        message = receive(ws)
        assert message["seq"] == start + 1
        assert alert_in(message["content"], lea["id"])


def test_a_change_is_rendered_once_per_view_not_once_per_socket(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.realtime import fragments

    rendered: list[object] = []
    original = fragments.change_message

    def counting(state: Any, view: Any, changes: Any, **options: Any) -> str:
        rendered.append(view)
        return original(state, view, changes, **options)

    monkeypatch.setattr("server.realtime.hub.change_message", counting)
    login(client, RECEPTION)
    era = demo_ids(database_url)["ERA"]
    with (
        board(client, f"installation={era}&group=all") as (first, seq),
        board(client, f"installation={era}&group=all") as (second, _),
        board(client, f"installation={era}&group=all") as (third, _),
    ):
        lat, lon = ERABLES  # at the door: the alert is due at once
        response = send_announcement(
            client, "C0001", "G0001", mode="gps", latitude=lat, longitude=lon
        )
        assert response.status_code == 201
        messages = [receive(ws) for ws in (first, second, third)]
    assert [m["seq"] for m in messages] == [seq + 1] * 3
    assert messages[0] == messages[1] == messages[2]
    assert len(rendered) == 1  # three sockets, one view, one render


def test_boards_resyncing_together_share_one_snapshot_render(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an outage every board of a view asks for a snapshot at once: one render serves
    them while nothing changed; a change makes the next one fresh."""
    from server.realtime import fragments

    rendered: list[object] = []
    original = fragments.snapshot_message

    def counting(state: Any, view: Any, extra: str = "") -> str:
        rendered.append(view)
        return original(state, view, extra)

    monkeypatch.setattr("server.realtime.hub.snapshot_message", counting)
    login(client, RECEPTION)
    with board(client) as (first, seq), board(client) as (second, _), board(client) as (third, _):
        assert len(rendered) == 1
        snapshots = [settle(ws)[-1] for ws in (first, second, third)]
        assert len(rendered) == 1 and snapshots[0] == snapshots[1] == snapshots[2]
        announce(client, "C-LEA", "G-TREMBLAY")
        assert receive(first)["seq"] == seq + 1
        fresh = settle(second)[-1]
        assert fresh["seq"] == seq + 1 and len(rendered) == 2


def test_an_event_later_than_the_wait_is_taken_in_by_a_reload(
    client: TestClient, database_url: str
) -> None:
    """Past the short wait the channel gives up on the missing number and reloads its board
    from the database, which has that change too: the board gets both in one message, with
    no gap, and the straggler, when it comes, adds nothing. No change is ever dropped."""
    login(client, RECEPTION)
    with board(client) as (ws, start):
        events: list[BoardEvent] = []
        children = present_children(client, ("ERA-LUT", "ERA-EXP"))

        async def second_first(svc: Services) -> None:
            events.extend(await absences(svc, children))
            await svc.publish(events[1:])

        async def straggler(svc: Services) -> None:
            await svc.publish(events[:1])

        publish_in_app(client, second_first)
        # Received only once the channel gave up waiting for the missing number.
        both = receive(ws)
        assert (both["from"], both["seq"]) == (start + 1, start + 2)
        for child in children:
            assert child_placed(both["content"], child["internal_id"])
        publish_in_app(client, straggler)  # the first change publishes well after the wait
        *nothing, snapshot = settle(ws)
        assert nothing == [] and snapshot["seq"] == start + 2


def test_a_held_board_is_checked_against_the_database(
    client: TestClient, database_url: str
) -> None:
    """The periodic check (every few minutes, and at local midnight) reloads the board: a
    change that reached the database without an event (here, made behind the app's back)
    reaches the boards, whole since the numbers cannot tell it apart."""
    login(client, RECEPTION)
    with board(client) as (ws, start):
        [child] = present_children(client, ("ERA-LUT",))

        async def behind_the_back(svc: Services) -> None:
            await absences(svc, [child])  # committed, never published
            async with svc.db.session() as session:
                await session.execute(
                    update(Installation)
                    .where(col(Installation.external_id) == "ERA")
                    .values(event_seq=start)
                )
                await session.commit()

        publish_in_app(client, behind_the_back)
        hub = client.app.state.services.hub  # type: ignore[attr-defined]
        hub.recheck_now()
        pushed = receive(ws)
        assert pushed["snapshot"] is True and pushed["seq"] == start
        assert f'id="child-{child["internal_id"]}" data-child' in pushed["content"]
        assert re.search(
            rf'class="child child--departed" id="child-{child["internal_id"]}"', pushed["content"]
        )


# -- helpers ---------------------------------------------------------------------------------


def child_ids(database_url: str) -> dict[str, int]:
    async def load(session: AsyncSession) -> dict[str, int]:
        rows = (await session.execute(select(col(Child.external_id), col(Child.id)))).all()
        return {external: internal for external, internal in rows if internal is not None}

    return in_db(database_url, load)


def present_children(client: TestClient, groups: tuple[str, ...]) -> list[dict[str, Any]]:
    """One present child of each group (API view, with its internal id)."""
    listed = client.get("/api/v1/children?installation_id=ERA", headers=api_headers()).json()
    database_url = client.app.state.services.settings.database_url  # type: ignore[attr-defined]
    internal = child_ids(database_url)
    chosen = [next(c for c in listed if c["group_id"] == g and c["present"]) for g in groups]
    return [c | {"internal_id": internal[c["id"]]} for c in chosen]


async def absences(svc: Services, children: list[dict[str, Any]]) -> list[BoardEvent]:
    """Each child marked absent, one transaction each (so one number each), not published."""
    events: list[BoardEvent] = []
    for listed in children:
        async with svc.db.session() as session:
            child = await session.get(Child, listed["internal_id"])
            assert child is not None
            installation = await session.get(Installation, child.installation_id)
            assert installation is not None
            events += await mark_absent(session, child, installation, svc.clock.now())
            await session.commit()
    return events


def child_placed(content: str, child_id: int) -> str | None:
    """Where a message puts a child's row: the list it is appended to, or the section sent
    whole that holds it (None: not in the message)."""
    row = f'id="child-{child_id}" data-child'
    appended = re.search(rf'<template hx-swap-oob="beforeend:#([\w-]+)">\s*<li [^>]*{row}', content)
    if appended:
        return appended.group(1)
    for section in re.finditer(r'<section id="(group-\d+)".*?</section>', content, re.S):
        if row in section.group(0):
            return section.group(1)
    return None
