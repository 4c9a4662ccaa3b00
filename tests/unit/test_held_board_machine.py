"""The boards a worker holds, against the database, as a hypothesis state machine.

Random announcements (now, later, GPS at the door or far away), staff steps (through the API
and through a board's own buttons, whose answer replaces that board's live region),
absences (which cancel a live pickup), check-ins, moves between groups, time passing (the
background work promotes scheduled arrivals), a new day, and boards reconnecting, all
through the real application, its use-cases and a real database. After each step:

- the board the hub holds for the installation equals a fresh load from the database;
- every connected board (several views: all groups, one group, English, a wall display),
  its live region changed only by the messages it received, as htmx and board.js apply
  them, shows exactly what a fresh page of that view shows;
- no board needed a snapshot to get there (no gap, no stale answer), and the hub read the
  board from the database only when it had to (the first board, a new day);
- the family page of each child's guardian, held by the hub and followed from the same
  events, equals a fresh load, and its last message is what a fresh render sends.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.testclient import TestClient, WebSocketTestSession

from server.app import create_app
from server.core.clock import ManualClock
from server.core.i18n import use_locale
from server.core.models import Display, Group, Guardian, Installation
from server.core.security import token_hash
from server.core.settings import Settings
from server.core.templating import render
from server.pickups.board import BoardState, ViewKey, load_board, same_board
from server.pickups.family import FamilyState, FamilyView, load_family
from server.realtime.fragments import family_message
from server.scheduler import run_due_work
from server.services import Services
from tests import databases
from tests.helpers import ORIGIN, T0, api_headers, csrf, login
from tests.unit.board_dom import Board, shown_by_page

SKELETON = (
    '<div id="live" class="live" data-seq="0"><section id="alerts"></section>'
    '<section id="upcoming"></section><div id="sections"></div></div>'
)
# The wall shows no child list.
WALL_SKELETON = (
    '<div id="live" class="live" data-seq="0"><section id="alerts"></section>'
    '<section id="upcoming"></section></div>'
)
WALL_TOKEN = "machine-wall-display-token"
INDEX = st.integers(min_value=0, max_value=50)


class FamilyPage:
    """A parent's phone on the family page: the hub's socket interface, keeping the last
    message (the page is sent whole)."""

    def __init__(self) -> None:
        from starlette.websockets import WebSocketState

        self.application_state = WebSocketState.CONNECTED
        self.last: str | None = None
        self.arrived = asyncio.Event()
        self.closed = asyncio.get_running_loop().create_future()

    async def send_text(self, text: str) -> None:
        self.last = text
        self.arrived.set()

    async def receive(self) -> dict[str, Any]:
        await self.closed
        return {"type": "websocket.disconnect"}

    async def close(self, code: int = 1000) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass
class Tablet:
    """One open board: its socket, what it shows, and the view the server keeps for it."""

    query: str
    view: ViewKey
    socket: WebSocketTestSession
    board: Board


class HeldBoards(RuleBasedStateMachine):
    def __init__(self, database: Callable[[], Iterator[tuple[str, Path]]]) -> None:
        super().__init__()
        self._database = database()
        url, var_dir = next(self._database)
        self.clock = ManualClock(T0)
        settings_ = Settings(database_url=url, secret_key="machine-secret", var_dir=var_dir)
        self.client = TestClient(create_app(settings_, clock=self.clock, background=False))
        self.client.__enter__()
        self.svc: Services = self.client.app.state.services  # type: ignore[attr-defined]
        login(self.client, "accueil@example.org")
        self.era, self.groups = self._call(self._ids)
        # A few children of each group, so that steps meet: announced, moved, sent home,
        # back again.
        children = self._api("GET", "/children?installation_id=ERA").json()
        self.children = [
            c
            for group in ("ERA-LUT", "ERA-EXP", "ERA-HIB")
            for c in [c for c in children if c["group_id"] == group and c["guardian_ids"]][:2]
        ]
        self.tablets: list[Tablet] = []
        self._serving: list[asyncio.Task[None]] = []
        # Reads of the board from the database the hub should need: the first board's, and
        # one at each midnight (its timer). Every change is applied from the rows its event
        # carries.
        self.loads = 1
        lutins, hiboux = self.groups["ERA-LUT"], self.groups["ERA-HIB"]
        for query, group_id, interactive, locale in [
            (f"installation={self.era}&group=all", None, True, "fr_CA"),
            (f"installation={self.era}&group={lutins}", lutins, True, "fr_CA"),
            (f"installation={self.era}&group={hiboux}&lang=en", hiboux, True, "en"),
            (f"display={WALL_TOKEN}", None, False, "fr_CA"),
        ]:
            self.tablets.append(self._open(query, ViewKey(self.era, group_id, interactive, locale)))
        # A board no test looks at: its snapshot request, queued behind everything a change
        # set off in the hub (family pages included), says when all of it is done.
        self.probe = self.client.websocket_connect(
            f"/board/ws?{self.tablets[0].query}", headers=ORIGIN
        )
        self.probe.__enter__()
        self._receive(self.probe)
        self.families: dict[int, FamilyPage] = self._call(self._open_families)

    # -- plumbing ------------------------------------------------------------------------

    def _call(self, work: Callable[[Services], Any]) -> Any:
        """Run `work(services)` on the app's own loop, as a request would."""

        async def run() -> Any:
            return await work(self.svc)

        return self.client.portal.call(run)  # type: ignore[union-attr]

    async def _ids(self, svc: Services) -> tuple[int, dict[str, int]]:
        async with svc.db.session() as session:
            era = (
                await session.execute(
                    select(Installation).where(col(Installation.external_id) == "ERA")
                )
            ).scalar_one()
            groups = (
                (await session.execute(select(Group).where(col(Group.installation_id) == era.id)))
                .scalars()
                .all()
            )
            assert era.id is not None
            session.add(  # a wall screen showing every group
                Display(
                    organization_id=era.organization_id,
                    installation_id=era.id,
                    name="Hall",
                    token_hash=token_hash(WALL_TOKEN),
                    created_at=T0,
                )
            )
            await session.commit()
            return era.id, {g.external_id: g.id for g in groups if g.id is not None}

    async def _open_families(self, svc: Services) -> dict[int, FamilyPage]:
        """The family page of each child's first guardian, open on a phone."""
        async with svc.db.session() as session:
            rows = await session.execute(select(col(Guardian.external_id), col(Guardian.id)))
            internal = {external: id_ for external, id_ in rows.all() if id_ is not None}
        pages: dict[int, FamilyPage] = {}
        for child in self.children:
            guardian = internal[child["guardian_ids"][0]]
            if guardian in pages:
                continue
            pages[guardian] = FamilyPage()
            phone: Any = pages[guardian]
            view = FamilyView(guardian, "fr_CA")
            serving = svc.hub.serve(phone, view, installation_ids=frozenset({self.era}))
            self._serving.append(asyncio.create_task(serving))
        await asyncio.gather(*(page.arrived.wait() for page in pages.values()))
        return pages

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.request(method, f"/api/v1{path}", headers=api_headers(), json=body)

    def _open(self, query: str, view: ViewKey) -> Tablet:
        socket = self.client.websocket_connect(f"/board/ws?{query}", headers=ORIGIN)
        socket.__enter__()
        board = Board(SKELETON if view.interactive else WALL_SKELETON)
        board.receive(self._receive(socket))  # the snapshot it starts from
        assert board.seq > 0
        return Tablet(query, view, socket, board)

    def _receive(self, socket: WebSocketTestSession) -> str:
        async def next_message() -> Any:
            with anyio.fail_after(5):
                return await socket._send_rx.receive()

        message = socket.portal.call(next_message)
        assert message["type"] == "websocket.send", message
        text: str = message["text"]
        return text

    async def _era(self, session: AsyncSession) -> Installation:
        installation = await session.get(Installation, self.era)
        assert installation is not None
        return installation

    def _seq(self) -> int:
        async def read(svc: Services) -> int:
            async with svc.db.session() as session:
                return (await self._era(session)).event_seq

        seq: int = self._call(read)
        return seq

    def _fresh(self) -> BoardState:
        async def load(svc: Services) -> BoardState:
            async with svc.db.session() as session:
                return await load_board(session, await self._era(session), self.clock.now())

        board: BoardState = self._call(load)
        return board

    def _live(self) -> list[dict[str, Any]]:
        """Today's live pickups of the installation."""
        pickups = self._api("GET", "/pickups?installation_id=ERA").json()
        live = {"scheduled", "tracking", "announced", "called", "ready"}
        return [p for p in pickups if p["status"] in live]

    def _settle(self) -> None:
        """Every board has received the messages of every change made so far, and the hub
        is done with them (family pages too)."""
        seq = self._seq()
        for tablet in self.tablets:
            while tablet.board.seq < seq:
                assert not tablet.board.awaiting_snapshot, f"{tablet.query} saw a gap"
                tablet.board.receive(self._receive(tablet.socket))
        self.probe.send_json({"type": "snapshot"})
        while not json.loads(self._receive(self.probe)).get("snapshot"):
            pass
        # Anything else the hub sent meanwhile (a board pushed whole after a new day).
        for tablet in self.tablets:
            while (message := self._waiting(tablet.socket)) is not None:
                tablet.board.receive(message)

    def _waiting(self, socket: WebSocketTestSession) -> str | None:
        """A message already sent to this socket, if any (without waiting for one)."""

        async def take() -> Any:
            await asyncio.sleep(0)  # wait-ok: one turn of the loop lets writes in flight land
            try:
                return socket._send_rx.receive_nowait()
            except anyio.WouldBlock:
                return None

        message = socket.portal.call(take)
        if message is None:
            return None
        assert message["type"] == "websocket.send", message
        text: str = message["text"]
        return text

    def _clock_moves(self, by: timedelta) -> None:
        """Time passes. Past the installation's midnight the hub's timer compares its held
        board with the database (the board starts a new day): one read, and the boards get
        the new day whole."""
        day = self.clock.now().astimezone(T0.tzinfo).date()
        self.clock.advance(by)
        if self.clock.now().astimezone(T0.tzinfo).date() != day:

            async def midnight(svc: Services) -> None:
                svc.hub.recheck_now()

            self._call(midnight)
            self.loads += 1
            self._settle()

    def teardown(self) -> None:
        async def close_families(svc: Services) -> None:
            for page in self.families.values():
                await page.close()
            await asyncio.gather(*self._serving)

        self._call(close_families)
        self.probe.__exit__(None, None, None)
        for tablet in self.tablets:
            tablet.socket.__exit__(None, None, None)
        self.client.__exit__(None, None, None)
        next(self._database, None)

    # -- people and time -----------------------------------------------------------------

    @rule(which=INDEX, how=st.sampled_from(["now", "later", "gps-door", "gps-far"]))
    def parent_announces(self, which: int, how: str) -> None:
        child = self.children[which % len(self.children)]
        body: dict[str, Any] = {"child_id": child["id"], "guardian_id": child["guardian_ids"][0]}
        local = self.clock.now().astimezone(T0.tzinfo)
        if how == "now":
            body |= {"mode": "eta", "eta": local.strftime("%H:%M")}
        elif how == "later":
            body |= {"mode": "eta", "eta": (local + timedelta(minutes=40)).strftime("%H:%M")}
        else:
            latitude = 46.8139 if how == "gps-door" else 46.95
            body |= {"mode": "gps", "latitude": latitude, "longitude": -71.2082}
        response = self._api("POST", "/pickups", body)
        assert response.status_code in (201, 409, 422), response.text  # 409/422: refused
        event(f"announce {how}: {response.status_code}")
        self._settle()

    @rule(which=INDEX, by_button=st.booleans())
    def staff_takes_the_next_step(self, which: int, by_button: bool) -> None:
        on_board = [p for p in self._live() if p["status"] in ("announced", "called", "ready")]
        if not on_board:
            return
        pickup = on_board[which % len(on_board)]
        target = {"announced": "called", "called": "ready", "ready": "departed"}[pickup["status"]]
        if not by_button:
            response = self._api("POST", f"/pickups/{pickup['id']}/status", {"status": target})
            assert response.status_code == 200, response.text
            self._settle()
            return
        # Reception's tablet presses it: the answer replaces that board's live region at
        # once, often before the socket brings the same change.
        reception = self.tablets[0]
        answer = self.client.post(
            f"/board/pickups/{pickup['id']}/status?{reception.query}",
            data={"from": pickup["status"], "to": target},
            headers=csrf(self.client),
        )
        assert answer.status_code == 200, answer.text
        reception.board.button_answer(answer.text)
        self._settle()

    @rule(which=INDEX, present=st.booleans())
    def attendance_changes(self, which: int, present: bool) -> None:
        """Absent: checked out, and a live pickup of the child cancelled."""
        child = self.children[which % len(self.children)]
        response = self._api("POST", "/attendance", {"child_id": child["id"], "present": present})
        assert response.status_code == 200, response.text
        self._settle()

    @rule(which=INDEX, group=st.sampled_from(["ERA-LUT", "ERA-EXP", "ERA-HIB"]))
    def child_moves_to_another_group(self, which: int, group: str) -> None:
        child = self.children[which % len(self.children)]
        response = self._api("PATCH", f"/children/{child['id']}", {"group_id": group})
        assert response.status_code == 200, response.text
        self._settle()

    @rule(minutes=st.integers(min_value=1, max_value=45))
    def time_passes(self, minutes: int) -> None:
        """The background work runs: scheduled arrivals whose moment came are announced (and
        past midnight, yesterday's leftovers expire)."""
        self._clock_moves(timedelta(minutes=minutes))
        self._call(run_due_work)
        self._settle()

    @rule(which=INDEX, rarely=st.integers(min_value=0, max_value=9))
    def next_morning(self, which: int, rarely: int) -> None:
        """Past midnight (yesterday's leftovers expire), a first child arrives."""
        if rarely:
            return
        local = self.clock.now().astimezone(T0.tzinfo)
        morning = datetime.combine(local.date() + timedelta(days=1), T0.timetz())
        self._clock_moves(morning.astimezone(UTC) - self.clock.now().astimezone(UTC))
        login(self.client, "accueil@example.org")  # a new working day, a new sign-in
        self._call(run_due_work)
        child = self.children[which % len(self.children)]
        response = self._api("POST", "/attendance", {"child_id": child["id"], "present": True})
        assert response.status_code == 200, response.text
        self._settle()

    @rule(which=st.integers(min_value=0, max_value=3), rarely=st.integers(min_value=0, max_value=4))
    def a_board_reconnects(self, which: int, rarely: int) -> None:
        if rarely:
            return
        tablet = self.tablets[which]
        tablet.socket.__exit__(None, None, None)
        self.tablets[which] = self._open(tablet.query, tablet.view)

    # -- what must hold ------------------------------------------------------------------

    @invariant()
    def the_held_board_is_the_database_board(self) -> None:
        channel = self.svc.hub._channels[self.era]
        held = channel.board
        assert held is not None
        assert same_board(held, self._fresh())
        assert channel.loads == self.loads  # no needless reload: events were applied
        event(f"alerts on the board: {min(len(held.alerts), 3)}")
        event(f"upcoming: {min(len(held.upcoming), 3)}")

    @invariant()
    def every_family_page_is_the_database_page(self) -> None:
        async def load(svc: Services) -> dict[int, FamilyState]:
            async with svc.db.session() as session:
                return {
                    guardian: await load_family(session, guardian, self.clock.now())
                    for guardian in self.families
                }

        fresh: dict[int, FamilyState] = self._call(load)
        for guardian, page in self.families.items():
            held = self.svc.hub.families[guardian]
            assert replace(held, now=fresh[guardian].now) == fresh[guardian]
            assert page.last == family_message(fresh[guardian], FamilyView(guardian, "fr_CA"))

    @invariant()
    def every_board_shows_what_a_fresh_page_shows(self) -> None:
        fresh = self._fresh()
        for tablet in self.tablets:
            with use_locale(tablet.view.locale):
                page = render(
                    "board/_live.html",
                    state=fresh.for_view(tablet.view.group_id),
                    view=tablet.view,
                    toast=None,
                )
            assert not tablet.board.awaiting_snapshot, tablet.query
            assert tablet.board.shown() == shown_by_page(page), tablet.query


def _databases(
    template: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[[], Iterator[tuple[str, Path]]]:
    """A fresh copy of the demo database for each example (and a folder of its own), given
    back after it."""
    counter = iter(range(1_000_000))

    def one() -> Iterator[tuple[str, Path]]:
        folder = tmp_path / f"example-{next(counter)}"
        folder.mkdir()
        if databases.using_postgres():
            spares: databases.Spares = request.getfixturevalue("postgres_copies")
            url = spares.take()
            yield url, folder
            spares.give_back(url)
            return
        template_file = Path(template.split(":///", 1)[1])
        yield databases.copy_sqlite(template_file, folder / "relais.db"), folder

    return one


def test_held_boards_follow_the_database(
    demo_database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database = _databases(demo_database, tmp_path, request)
    run_state_machine_as_test(
        lambda: HeldBoards(database),  # type: ignore[arg-type]
        settings=settings(
            max_examples=25,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
