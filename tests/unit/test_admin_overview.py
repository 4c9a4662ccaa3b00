"""The director's overview and the timing reports, through the app as a browser and an
integration use them: pickups announced and advanced through API v1, time moved on the
injected ManualClock so every duration is known. Nothing reads the real time of day. The
overview's socket (/admin/overview/ws) is a real WebSocket: who may open it, what it pushes
after a change, how a burst is coalesced, and that it closes with the sign-in."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.testclient import TestClient, WebSocketDenialResponse, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from server.app import create_app
from server.core.clock import ManualClock
from server.core.models import (
    ActorKind,
    Child,
    Emergency,
    EmergencyKind,
    Installation,
    PickupStatus,
)
from server.core.settings import Settings
from server.emergency import service as emergency
from server.emergency.rules import StartRequest
from server.pickups.board import AlertItem, BoardState
from server.pickups.events import BoardEvent
from server.pickups.writes import Actor
from server.realtime import overview as live
from server.services import Services
from tests.helpers import (
    ERABLES,
    ORIGIN,
    T0,
    announce,
    another_browser,
    api_headers,
    csrf,
    demo_ids,
    login,
    parent_login,
    portal_login,
    receive,
    run_async,
)
from tests.redis_server import RedisServer

ADMIN = "direction@example.org"


def announce_at_door(client: TestClient, number: int) -> dict[str, Any]:
    """A GPS pickup of Les Lutins' child C000n by its guardian, at the door: on the board."""
    lat, lon = ERABLES
    child, guardian = f"C{number:04d}", f"G{number:04d}"
    return announce(
        client, child, guardian, status="announced", mode="gps", latitude=lat, longitude=lon
    )


def advance(client: TestClient, pickup_id: int, status: str) -> None:
    response = client.post(
        f"/api/v1/pickups/{pickup_id}/status", headers=api_headers(), json={"status": status}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == status


def count(installation_card: str, name: str) -> int:
    match = re.search(rf'data-count="{name}"><dt>[^<]*</dt><dd>(\d+)</dd>', installation_card)
    assert match, f"no {name} count"
    return int(match.group(1))


def longest_wait(installation_card: str) -> str:
    match = re.search(
        r'data-count="longest-wait"><dt>[^<]*</dt><dd>([^<]*)</dd>', installation_card
    )
    assert match, "no longest wait"
    return match.group(1)


def card(html: str, installation_name: str) -> str:
    """The overview card of one installation."""
    for block in html.split('<section class="card overview-card')[1:]:
        if f">{installation_name}</h2>" in block:
            return block
    raise AssertionError(f"no card for {installation_name}")


# -- overview ----------------------------------------------------------------------------------


def test_overview_shows_each_alert_with_its_waiting_minutes_and_the_counts(
    client: TestClient, clock: ManualClock
) -> None:
    login(client, ADMIN)
    first = announce_at_door(client, 1)
    clock.advance(timedelta(minutes=3))
    second = announce_at_door(client, 2)
    advance(client, second["id"], "called")
    clock.advance(timedelta(minutes=4))

    response = client.get("/admin/overview?lang=en")
    assert response.status_code == 200
    html = response.text
    # Live over its socket, not polled.
    assert 'hx-ws:connect="/admin/overview/ws"' in html and "hx-trigger" not in html
    erables = card(html, "Pavillon des Érables")
    row = re.search(rf'id="overview-pickup-{first["id"]}".*?</tr>', erables, re.S)
    assert row, erables
    assert first["child_name"] in row.group(0)
    assert "Les Lutins" in row.group(0)
    assert "badge--announced" in row.group(0)
    assert 'data-waiting="7"' in row.group(0) and "7 min" in row.group(0)
    row2 = re.search(rf'id="overview-pickup-{second["id"]}".*?</tr>', erables, re.S)
    assert row2 and "badge--called" in row2.group(0) and 'data-waiting="4"' in row2.group(0)
    assert count(erables, "alerts") == 2
    assert longest_wait(erables) == "7 min"
    # The longest wait first.
    assert erables.index(f"overview-pickup-{first['id']}") < erables.index(
        f"overview-pickup-{second['id']}"
    )
    assert count(erables, "present") == 44  # 3 groups of 14, plus Léa and Noah
    assert count(erables, "upcoming") == 0
    assert count(erables, "departed") == 0
    bouleaux = card(html, "Pavillon des Bouleaux")
    assert count(bouleaux, "alerts") == 0
    assert longest_wait(bouleaux) == "—"
    assert count(bouleaux, "present") == 42

    # Released: off the overview, and one more child gone home.
    advance(client, second["id"], "ready")
    advance(client, second["id"], "departed")
    erables = card(client.get("/admin/overview?lang=en").text, "Pavillon des Érables")
    assert f"overview-pickup-{second['id']}" not in erables
    assert count(erables, "alerts") == 1
    assert count(erables, "present") == 43
    assert count(erables, "departed") == 1


def test_an_eta_pickup_not_yet_due_counts_as_upcoming(client: TestClient) -> None:
    login(client, ADMIN)
    response = client.post(
        "/api/v1/pickups",
        headers=api_headers(),
        json={"child_id": "C0003", "guardian_id": "G0003", "mode": "eta", "eta": "17:30"},
    )
    assert response.status_code == 201 and response.json()["status"] == "scheduled"
    erables = card(client.get("/admin/overview").text, "Pavillon des Érables")
    assert count(erables, "upcoming") == 1
    assert count(erables, "alerts") == 0


def test_htmx_request_gets_the_live_region_only(client: TestClient) -> None:
    login(client, ADMIN)
    pickup = announce_at_door(client, 1)
    response = client.get("/admin/overview", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.text
    assert "<html" not in html and "admin-nav" not in html and "overview-live" not in html
    assert html.lstrip().startswith("<section")
    assert html.count('class="card overview-card') == 2
    assert f'id="overview-pickup-{pickup["id"]}"' in html


@pytest.mark.parametrize("email", ["educatrice@example.org", "accueil@example.org"])
@pytest.mark.parametrize("path", ["/admin/overview", "/admin/reports"])
def test_educator_and_reception_are_refused(client: TestClient, email: str, path: str) -> None:
    login(client, email)
    assert client.get(path).status_code == 403
    assert client.get(path, headers={"HX-Request": "true"}).status_code == 403


@pytest.mark.parametrize("path", ["/admin/overview", "/admin/reports"])
def test_signed_out_goes_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


# -- the view model ---------------------------------------------------------------------------


def alert(pickup_id: int, announced_at: datetime | None) -> AlertItem:
    return AlertItem(
        pickup_id=pickup_id,
        status=PickupStatus.ANNOUNCED,
        child_id=pickup_id,
        child_name=f"Enfant {pickup_id}",
        group_id=1,
        group_name="Les Lutins",
        guardian_name="Parent",
        mode="gps",
        eta=None,
        announce_at=None,
        gps_minutes=None,
        announced_at=announced_at,
    )


def board_state(*alerts: AlertItem) -> BoardState:
    return BoardState(
        installation_id=1,
        installation_name="Pavillon",
        timezone="America/Toronto",
        preparation_minutes=5,
        seq=1,
        now=T0,
        day=T0.date(),
        groups=((1, "Les Lutins"),),
        alerts=alerts,
        upcoming=(),
    )


def test_the_view_model_puts_the_longest_wait_first_and_counts_whole_minutes() -> None:
    summary = live.summarize(
        board_state(
            alert(1, T0 - timedelta(minutes=2, seconds=59)),
            alert(2, T0 - timedelta(minutes=9)),
            alert(3, None),  # not yet alerted: waits 0
            alert(4, T0 - timedelta(minutes=9)),  # the same wait: the earlier id first
        ),
        T0,
    )
    assert [(a.pickup_id, minutes) for a, minutes in summary.alerts] == [
        (2, 9),
        (4, 9),
        (1, 2),
        (3, 0),
    ]
    assert summary.longest_wait == 9
    assert summary.roll is None
    assert live.summarize(board_state(), T0).longest_wait is None


# -- the live overview's socket --------------------------------------------------------------


def cards(message: dict[str, Any]) -> str:
    assert message.get("overview") is True, message
    return str(message["content"])


@contextmanager
def overview_socket(client: TestClient) -> Iterator[tuple[WebSocketTestSession, str]]:
    """The signed-in director's overview socket and its first message: every card."""
    with client.websocket_connect("/admin/overview/ws", headers=ORIGIN) as ws:
        yield ws, cards(receive(ws))


def feed(client: TestClient) -> live.OverviewFeed:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    return services.overview


def test_the_socket_sends_every_card_then_each_change_within_the_same_card(
    client: TestClient, clock: ManualClock
) -> None:
    login(client, ADMIN)
    with overview_socket(client) as (ws, first):
        # Both installations of the organization, swapped in by id (out of band).
        assert first.count('class="card overview-card') == 2
        assert first.count('hx-swap-oob="true"') == 2
        assert count(card(first, "Pavillon des Érables"), "alerts") == 0

        pickup = announce_at_door(client, 1)
        erables = card(cards(receive(ws)), "Pavillon des Érables")
        assert f'id="overview-pickup-{pickup["id"]}"' in erables
        assert pickup["child_name"] in erables
        assert count(erables, "alerts") == 1

        clock.advance(timedelta(minutes=4))
        advance(client, pickup["id"], "called")
        pushed = cards(receive(ws))
        # Only the installation that changed is sent.
        assert "Pavillon des Bouleaux" not in pushed
        row = re.search(rf'id="overview-pickup-{pickup["id"]}".*?</tr>', pushed, re.S)
        assert row and "badge--called" in row.group(0) and 'data-waiting="4"' in row.group(0)
        assert longest_wait(pushed) == "4 min"


def test_the_socket_speaks_the_directors_language(client: TestClient) -> None:
    login(client, ADMIN)
    client.get("/admin/overview?lang=en")
    with overview_socket(client) as (_ws, first):
        assert "Departed today" in first and "Longest wait" in first
    client.get("/admin/overview?lang=fr")
    with overview_socket(client) as (_ws, first):
        assert "Partis aujourd’hui" in first
        assert "Attente la plus longue" in first


def test_a_burst_of_events_is_rendered_once(client: TestClient, database_url: str) -> None:
    """Forty events of one installation published back to back (as a rush would) cost one
    render of its card and one message, not forty."""
    login(client, ADMIN)
    erables = demo_ids(database_url)["ERA"]
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    with overview_socket(client) as (ws, _first):
        before = feed(client).renders

        async def rush() -> None:
            # Without a pause between them: nothing else runs until all forty are out.
            for seq in range(1, 41):
                await services.broker.publish(BoardEvent(erables, 10_000 + seq, "reload"))

        assert client.portal is not None
        client.portal.call(rush)
        assert "Pavillon des Érables" in cards(receive(ws))
        assert feed(client).renders == before + 1
        # Nothing else was queued behind it: the next message is the next change's.
        pickup = announce_at_door(client, 1)
        assert f'id="overview-pickup-{pickup["id"]}"' in cards(receive(ws))


def test_waiting_minutes_count_on_while_nothing_happens(
    client: TestClient, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "TICK_SECONDS", 0.2)
    login(client, ADMIN)
    pickup = announce_at_door(client, 1)
    with overview_socket(client) as (ws, _first):
        clock.advance(timedelta(minutes=9))
        erables = card(cards(receive(ws)), "Pavillon des Érables")
        row = re.search(rf'id="overview-pickup-{pickup["id"]}".*?</tr>', erables, re.S)
        assert row and 'data-waiting="9"' in row.group(0)


def test_signing_out_closes_the_open_overview(client: TestClient) -> None:
    login(client, ADMIN)
    with overview_socket(client) as (ws, _first):
        out = client.post(
            "/logout", data={"csrf_token": csrf(client)["X-CSRF-Token"]}, follow_redirects=False
        )
        assert out.status_code == 303
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(ws)
        assert closed.value.code == 4001


@pytest.fixture
def client_on_redis(
    settings: Settings, clock: ManualClock, redis_server: RedisServer
) -> Iterator[TestClient]:
    app = create_app(
        dataclasses.replace(settings, redis_url=redis_server.url), clock=clock, background=False
    )
    with TestClient(app, base_url="http://testserver") as client:
        yield client


def test_a_redis_outage_is_shown_then_every_card_comes_afresh_and_a_sign_out_holds(
    client_on_redis: TestClient, redis_server: RedisServer
) -> None:
    director = client_on_redis
    other = another_browser(director)
    login(director, ADMIN)
    login(other, ADMIN)
    with overview_socket(director) as (signed_out, _), overview_socket(other) as (still_in, _):
        redis_server.kill()
        assert receive(signed_out) == {"status": "degraded"}
        assert receive(still_in) == {"status": "degraded"}
        # Meanwhile a pickup is announced, and one director signs out: neither rides the bus.
        pickup = announce_at_door(director, 1)
        out = director.post(
            "/logout", data={"csrf_token": csrf(director)["X-CSRF-Token"]}, follow_redirects=False
        )
        assert out.status_code == 303

        run_async(redis_server.start)
        with pytest.raises(WebSocketDisconnect) as closed:
            receive(signed_out)
        assert closed.value.code == 4001
        assert receive(still_in) == {"status": "live"}
        # Every card again, the missed announcement in it.
        refreshed = cards(receive(still_in))
        assert refreshed.count('class="card overview-card') == 2
        assert f'id="overview-pickup-{pickup["id"]}"' in refreshed


def assert_socket_refused(client: TestClient, headers: dict[str, str] = ORIGIN) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect("/admin/overview/ws", headers=headers),
    ):
        pass
    if isinstance(refused.value, WebSocketDenialResponse):
        assert refused.value.status_code == 403
    else:
        assert refused.value.code == 1008


@pytest.mark.parametrize("email", ["educatrice@example.org", "accueil@example.org"])
def test_the_socket_refuses_educators_and_reception(client: TestClient, email: str) -> None:
    login(client, email)
    assert_socket_refused(client)


def test_the_socket_refuses_a_parent_a_centre_account_and_the_signed_out(
    client: TestClient,
) -> None:
    assert_socket_refused(client)
    parent = another_browser(client)
    parent_login(parent)
    assert_socket_refused(parent)
    centre = another_browser(client)
    assert portal_login(centre) == 303
    assert_socket_refused(centre)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"origin": "http://evil.example"}, id="foreign-origin"),
        pytest.param({"origin": "null"}, id="null-origin"),
        pytest.param({}, id="no-origin"),
    ],
)
def test_the_socket_refuses_another_origin(client: TestClient, headers: dict[str, str]) -> None:
    login(client, ADMIN)
    assert_socket_refused(client, headers)
    with overview_socket(client) as (_ws, first):  # the Origin made the difference
        assert "Pavillon des Érables" in first


# -- during an emergency: the roll call ---------------------------------------------------------

TABLET = Actor(ActorKind.STAFF, None, "Accueil", "tablet")


def changed(
    client: TestClient, work: Callable[[AsyncSession], Awaitable[list[BoardEvent]]]
) -> None:
    """A use-case run as a handler runs it: one transaction, then its events published."""
    services: Services = client.app.state.services  # type: ignore[attr-defined]

    async def run() -> None:
        async with services.db.session() as session:
            await services.commit_and_publish(session, await work(session))

    assert client.portal is not None
    client.portal.call(run)


def start_drill(client: TestClient, clock: ManualClock) -> None:
    async def work(session: AsyncSession) -> list[BoardEvent]:
        era = (await session.scalars(select(Installation).filter_by(external_id="ERA"))).one()
        assert era.id is not None
        request = StartRequest((era.id,), EmergencyKind.EVACUATION, True, "Exercice", "Parc")
        _started, events = await emergency.start(session, [era], request, TABLET, clock.now())
        return events

    changed(client, work)


def check_present(client: TestClient, clock: ManualClock, child_external_id: str) -> None:
    """« Présent » pressed on a board for this child."""

    async def work(session: AsyncSession) -> list[BoardEvent]:
        child = (
            await session.scalars(select(Child).filter_by(external_id=child_external_id))
        ).one()
        under_way = (await session.scalars(select(Emergency).filter_by(ended_at=None))).one()
        assert child.id is not None
        outcome = await emergency.check(session, under_way, child.id, TABLET, clock.now())
        assert outcome.changed
        return outcome.events

    changed(client, work)


def end_emergency(clock: ManualClock) -> Callable[[AsyncSession], Awaitable[list[BoardEvent]]]:
    async def work(session: AsyncSession) -> list[BoardEvent]:
        under_way = (await session.scalars(select(Emergency).filter_by(ended_at=None))).one()
        return await emergency.end(session, under_way, TABLET, clock.now())

    return work


def roll_count(installation_card: str, name: str) -> int:
    match = re.search(rf'data-roll="{name}"><dt>[^<]*</dt><dd>(\d+)</dd>', installation_card)
    assert match, f"no roll count {name}"
    return int(match.group(1))


def missing_names(installation_card: str) -> list[str]:
    return re.findall(
        r'<li id="overview-missing-[^"]*" data-child="\d+">([^<]*)</li>', installation_card
    )


def test_during_an_emergency_each_roll_check_updates_the_counts_and_the_missing_list(
    client: TestClient, clock: ManualClock
) -> None:
    login(client, ADMIN)
    client.get("/admin/overview?lang=en")
    with overview_socket(client) as (ws, first):
        assert "overview-roll" not in first  # no emergency: no roll

        start_drill(client, clock)
        erables = card(cards(receive(ws)), "Pavillon des Érables")
        assert "overview-card--emergency" in erables and "Evacuation drill under way" in erables
        assert roll_count(erables, "accounted") == 0
        assert roll_count(erables, "missing") == 44
        assert len(missing_names(erables)) == 44 and "Léa Tremblay" in missing_names(erables)
        assert "44 children not yet accounted for:" in erables

        clock.advance(timedelta(minutes=2))
        check_present(client, clock, "C-LEA")
        erables = card(cards(receive(ws)), "Pavillon des Érables")
        assert roll_count(erables, "accounted") == 1
        assert roll_count(erables, "missing") == 43
        assert "Léa Tremblay" not in missing_names(erables)
        assert "Noah Tremblay" in missing_names(erables)

        # The page as loaded shows the same roll; Bouleaux has no emergency, no roll.
        html = client.get("/admin/overview?lang=en").text
        assert roll_count(card(html, "Pavillon des Érables"), "missing") == 43
        assert "overview-roll" not in card(html, "Pavillon des Bouleaux")

        # Ended: the roll leaves the card.
        changed(client, end_emergency(clock))
        erables = card(cards(receive(ws)), "Pavillon des Érables")
        assert "overview-roll" not in erables and "overview-card--emergency" not in erables


def test_the_missing_children_are_listed_under_their_group_in_french(
    client: TestClient, clock: ManualClock
) -> None:
    login(client, ADMIN)
    start_drill(client, clock)
    html = client.get("/admin/overview?lang=fr").text
    erables = card(html, "Pavillon des Érables")
    assert "Exercice d’évacuation en cours" in erables
    assert "44 enfants pas encore comptés :" in erables
    lutins = re.search(r"<h4>Les Lutins</h4>\s*<ul>(.*?)</ul>", erables, re.S)
    assert lutins and "Léa Tremblay" in lutins.group(1)
    assert "Noah Tremblay" not in lutins.group(1)  # Noah is in another group


# -- reports -----------------------------------------------------------------------------------

# Per pickup of Les Lutins: minutes from alert to Appeler, Appeler to Prêt, Prêt to Départ.
LUTINS_STEPS = [(1, 6, 1), (2, 6, 2), (2, 7, 1), (3, 5, 1), (4, 6, 3)]
# Medians: alert→Appeler 2, Appeler→Prêt 6, Prêt→Départ 1, alert→Prêt (7, 8, 9, 8, 10) → 8.


def run_lutins_pickups(client: TestClient, clock: ManualClock) -> None:
    for number, (to_call, to_ready, to_depart) in enumerate(LUTINS_STEPS, start=1):
        pickup = announce_at_door(client, number)
        clock.advance(timedelta(minutes=to_call))
        advance(client, pickup["id"], "called")
        clock.advance(timedelta(minutes=to_ready))
        advance(client, pickup["id"], "ready")
        clock.advance(timedelta(minutes=to_depart))
        advance(client, pickup["id"], "departed")
    # One more, cancelled by its child leaving before Appeler: counts as a pickup only.
    cancelled = announce_at_door(client, 6)
    clock.advance(timedelta(minutes=1))
    response = client.post(
        "/api/v1/attendance",
        headers=api_headers(),
        json={"child_id": "C0006", "present": False},
    )
    assert response.status_code in (200, 201), response.text
    assert cancelled["id"]


def cell(html: str, group: str, column: str) -> str:
    row = re.search(rf'data-group="{re.escape(group)}">.*?</tr>', html, re.S)
    assert row, f"no row for {group}"
    value = re.search(rf'data-col="{column}">([^<]*)</td>', row.group(0))
    assert value
    return value.group(1)


def test_reports_show_the_medians_and_suggest_the_measured_preparation_time(
    client: TestClient, clock: ManualClock
) -> None:
    login(client, ADMIN)
    run_lutins_pickups(client, clock)
    response = client.get("/admin/reports?lang=en")
    assert response.status_code == 200, response.text
    html = response.text
    assert cell(html, "Les Lutins", "pickups") == "6"
    assert cell(html, "Les Lutins", "alert-called") == "2"
    assert cell(html, "Les Lutins", "called-ready") == "6"
    assert cell(html, "Les Lutins", "ready-departed") == "1"
    assert cell(html, "Les Lutins", "alert-ready") == "8"
    assert cell(html, "Les Hiboux", "pickups") == "0"
    assert cell(html, "Les Hiboux", "alert-called") == "—"
    assert (
        "Les Lutins: preparation takes a median of 8 min, the configured time is 5 min. "
        "Consider 8 min." in html
    )
    # The chart: inline SVG, three bars for Les Lutins, none drawn for empty groups.
    assert "<svg" in html and "<script" not in html.split("<svg")[1].split("</svg>")[0]
    assert html.count('class="chart__bar chart__bar--') == 3
    # French numbers in French.
    french = client.get("/admin/reports?lang=fr").text
    assert cell(french, "Les Lutins", "alert-ready") == "8"


def test_reports_half_minutes_and_date_range(client: TestClient, clock: ManualClock) -> None:
    login(client, ADMIN)
    pickup = announce_at_door(client, 1)
    clock.advance(timedelta(seconds=90))
    advance(client, pickup["id"], "called")
    html = client.get("/admin/reports?lang=en").text
    assert cell(html, "Les Lutins", "alert-called") == "1.5"
    assert cell(client.get("/admin/reports?lang=fr").text, "Les Lutins", "alert-called") == "1,5"
    assert "Consider" not in html  # one pickup is not enough to suggest anything
    # A range before today: nothing.
    before = client.get("/admin/reports?lang=en&from=2026-10-01&to=2026-10-31").text
    assert cell(before, "Les Lutins", "pickups") == "0"
    assert 'value="2026-10-01"' in before
    # One installation only.
    option = re.search(r'<option value="(\d+)">Pavillon des Bouleaux</option>', html)
    assert option
    bouleaux = client.get(f"/admin/reports?lang=en&installation={option.group(1)}")
    assert bouleaux.status_code == 200
    assert "Les Castors" in bouleaux.text and 'data-group="Les Lutins"' not in bouleaux.text
    # A full year and a day (366 days) is still accepted.
    assert client.get("/admin/reports?from=2025-11-24&to=2026-11-24").status_code == 200


def test_reports_default_to_the_last_30_days(client: TestClient) -> None:
    login(client, ADMIN)
    html = client.get("/admin/reports").text
    assert 'name="from" value="2026-10-26"' in html
    assert 'name="to" value="2026-11-24"' in html


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("from=2026-13-01", "from", "YYYY-MM-DD"),
        ("from=yesterday&to=2026-11-24", "from", "YYYY-MM-DD"),
        ("to=24/11/2026", "to", "YYYY-MM-DD"),
        ("from=2026-11-24&to=2026-11-01", "from", "on or before"),
        ("from=2025-01-01&to=2026-11-24", "to", "366"),
        ("installation=999999", "installation", "Choose one"),
    ],
)
def test_bad_ranges_are_refused_next_to_the_field(
    client: TestClient, query: str, field: str, words: str
) -> None:
    login(client, ADMIN)
    response = client.get(f"/admin/reports?lang=en&{query}")
    assert response.status_code == 400
    message = re.search(rf'id="{field}-error" role="alert">([^<]*)<', response.text)
    assert message, response.text
    assert words in message.group(1)
    assert "report-table" not in response.text
