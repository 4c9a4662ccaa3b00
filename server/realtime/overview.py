"""The director's overview, live: every installation of the organization on one page, kept
current over a WebSocket (/admin/overview/ws) instead of polling.

The read model (`InstallationOverview`): per installation its live alerts with the minutes
each parent has waited, the longest wait, the day's counts and, during an emergency, the roll
call (`server/emergency/queries.py:roll_summary`: accounted for, missing, and who).

The live part (`OverviewFeed`): one per worker. It follows the installations its sockets show
through the hub (the same channels and broker subscriptions as the boards, so events cross
workers through Redis), and on any event of one of them (a pickup's step, a roll check)
re-renders that installation's card from the database. Renders are coalesced: a burst of
events within `COALESCE_SECONDS` costs one render, and renders are at least
`MIN_INTERVAL_SECONDS` apart, so a rush of forty presses a second costs four renders, not
forty, and every change still shows within half a second. Each card is rendered once per
language and the same bytes go to every socket that shows it. Every `TICK_SECONDS` the cards
are rendered again, so waiting minutes keep counting while nothing happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..core.i18n import use_locale
from ..core.models import Installation, SignInSession
from ..core.templating import render
from ..emergency.queries import RollSummary, roll_summary
from ..pickups.board import AlertItem, BoardState, load_board
from ..pickups.events import BoardEvent
from ..pickups.rules import waiting_minutes
from .hub import CLOSE_SESSION_ENDED, CLOSE_SHUTDOWN, CLOSE_TOO_SLOW, Hub

log = logging.getLogger(__name__)

# A burst of events this close together is rendered once.
COALESCE_SECONDS = 0.05
# Renders of the overview at most this often (per worker, whatever the number of events).
MIN_INTERVAL_SECONDS = 0.25
# Waiting minutes keep counting between events: every card is rendered again this often.
TICK_SECONDS = 15.0
# Messages that may wait for a director's connection; one more and it is dropped (it
# reconnects and gets everything afresh).
OUTBOX_SIZE = 32


# -- the read model --------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallationOverview:
    state: BoardState
    # Each live alert, with the whole minutes its parent has waited since it was raised.
    alerts: tuple[tuple[AlertItem, int], ...]
    present: int
    departed: int
    # The roll call of an emergency under way there (None: none): who is accounted for,
    # who is still missing.
    roll: RollSummary | None = None

    @property
    def installation_id(self) -> int:
        return self.state.installation_id

    @property
    def now(self) -> datetime:
        return self.state.now

    @property
    def upcoming(self) -> int:
        return len(self.state.upcoming)

    @property
    def longest_wait(self) -> int | None:
        """The minutes of the parent who has waited longest (None: nobody waits)."""
        return max((minutes for _, minutes in self.alerts), default=None)


def summarize(
    state: BoardState, now: datetime, roll: RollSummary | None = None
) -> InstallationOverview:
    # The longest waits first: the director's eye goes to the top of the list.
    alerts = sorted(
        ((a, waiting_minutes(a.announced_at, now)) for a in state.alerts),
        key=lambda pair: (-pair[1], pair[0].announced_at or now, pair[0].pickup_id),
    )
    return InstallationOverview(
        state=state,
        alerts=tuple(alerts),
        present=sum(len(s.present) for s in state.sections),
        departed=sum(len(s.departed) for s in state.sections),
        roll=roll,
    )


async def load_overview(
    session: AsyncSession, installation: Installation, now: datetime
) -> InstallationOverview:
    """One installation's card, from the database: its board and, during an emergency, its
    roll call (a roll check publishes an event on the installation's channel like any
    pickup, so the card follows it the same way)."""
    assert installation.id is not None
    board = await load_board(session, installation, now)
    return summarize(board, now, await roll_summary(session, installation.id))


async def live_sessions(session: AsyncSession, hashes: set[str], now: datetime) -> set[str]:
    """Those of these sign-ins that still hold (not signed out, not expired)."""
    query = select(col(SignInSession.token_hash)).where(
        col(SignInSession.token_hash).in_(hashes), col(SignInSession.expires_at) > now
    )
    return set((await session.execute(query)).scalars())


def render_card(overview: InstallationOverview, locale: str, *, oob: bool) -> str:
    with use_locale(locale):
        return render("admin/_overview_installation.html", overview=overview, oob=oob)


# -- the live feed ---------------------------------------------------------------------------


@dataclass(eq=False)
class OverviewSocket:
    """One open overview: the installations it shows (its organization's, at connection),
    its language, and the sign-in it belongs to (closed when that ends)."""

    websocket: WebSocket
    installation_ids: tuple[int, ...]
    locale: str
    session_hash: str
    outbox: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(OUTBOX_SIZE))


def cards_message(cards: Iterable[str]) -> str:
    """Cards as htmx's WebSocket extension swaps them: out-of-band, each by its id."""
    return json.dumps({"overview": True, "content": "".join(cards)}, ensure_ascii=False)


def status_message(status: str) -> str:
    """No content: the page only shows the state ("live", "degraded")."""
    return json.dumps({"status": status})


class OverviewFeed:
    """This worker's open overviews, fed from the hub (see the module's docstring)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.sockets: set[OverviewSocket] = set()
        self.followed: Counter[int] = Counter()
        self.renders = 0  # cards loaded from the database (tests count them)
        self._dirty: set[int] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # One render at a time: a socket's first cards and a change's never cross, so the
        # newer card always arrives last.
        self._lock = asyncio.Lock()
        self._broker_up = True
        hub.listeners.append(self)

    # -- sockets -------------------------------------------------------------------------

    async def serve(
        self,
        websocket: WebSocket,
        installation_ids: Iterable[int],
        locale: str,
        session_hash: str,
    ) -> None:
        """Serve one accepted socket until it closes: every card first, then the changes."""
        socket = OverviewSocket(
            websocket, tuple(sorted(set(installation_ids))), locale, session_hash
        )
        for installation_id in socket.installation_ids:
            await self.hub.follow(installation_id)
            self.followed[installation_id] += 1
        writer = asyncio.create_task(self._write(socket))
        try:
            async with self._lock:
                self.sockets.add(socket)
                cards = await self._cards(socket.installation_ids)
                self._offer(socket, cards_message(c[socket.locale] for c in cards.values()))
            if not self._broker_up:
                self._offer(socket, status_message("degraded"))
            self._start()
            while True:  # the page sends nothing; this waits for the close
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError, ValueError):
            pass
        finally:
            self.sockets.discard(socket)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            for installation_id in socket.installation_ids:
                self.followed[installation_id] -= 1
                if self.followed[installation_id] <= 0:
                    del self.followed[installation_id]
                await self.hub.unfollow(installation_id)
            if not self.sockets:
                self._stop()

    def _offer(self, socket: OverviewSocket, message: str) -> None:
        try:
            socket.outbox.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("dropping an overview that stopped reading")
            self.sockets.discard(socket)
            self._close_aside(socket, CLOSE_TOO_SLOW)

    async def _write(self, socket: OverviewSocket) -> None:
        with contextlib.suppress(Exception):  # the socket went away: serve() cleans up
            while True:
                await socket.websocket.send_text(await socket.outbox.get())

    def _close_aside(self, socket: OverviewSocket, code: int) -> None:
        task = asyncio.create_task(self._close(socket, code))
        self.hub.background.add(task)
        task.add_done_callback(self.hub.background.discard)

    @staticmethod
    async def _close(socket: OverviewSocket, code: int) -> None:
        with contextlib.suppress(Exception):
            if socket.websocket.application_state != WebSocketState.DISCONNECTED:
                await socket.websocket.close(code)

    async def close_all(self) -> None:
        for socket in list(self.sockets):
            await self._close(socket, CLOSE_SHUTDOWN)
        self.sockets.clear()
        self._stop()

    # -- rendering -----------------------------------------------------------------------

    def _start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="overview-feed")

    def _stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._dirty.clear()

    def mark(self, installation_ids: Iterable[int]) -> None:
        """These installations changed: their cards are rendered again shortly."""
        self._dirty.update(i for i in installation_ids if i in self.followed)
        if self._dirty:
            self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_tick = loop.time() + TICK_SECONDS
        last_render = -MIN_INTERVAL_SECONDS
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(next_tick - loop.time(), 0.0))
            # Let the rest of a burst arrive, and keep renders `MIN_INTERVAL_SECONDS` apart
            # (a lone change after a quiet moment goes out at once).
            await asyncio.sleep(
                max(COALESCE_SECONDS, last_render + MIN_INTERVAL_SECONDS - loop.time())
            )
            if loop.time() >= next_tick:  # the minutes count even where nothing happens
                self._dirty.update(self.followed)
                next_tick = loop.time() + TICK_SECONDS
            self._wake.clear()
            dirty, self._dirty = self._dirty, set()
            if not dirty:
                continue
            last_render = loop.time()
            try:
                await self._send(dirty)
            except Exception:  # a failed render must not end the feed; the next one retries
                log.exception("the overview failed to render installations %s", sorted(dirty))

    async def _send(self, dirty: set[int]) -> None:
        async with self._lock:
            dirty &= set(self.followed)
            if not dirty:
                return
            cards = await self._cards(sorted(dirty))
            by_variant: dict[tuple[str, tuple[int, ...]], str] = {}
            for socket in list(self.sockets):
                shown = tuple(i for i in socket.installation_ids if i in cards)
                if not shown:
                    continue
                key = (socket.locale, shown)
                if key not in by_variant:
                    by_variant[key] = cards_message(cards[i][socket.locale] for i in shown)
                self._offer(socket, by_variant[key])

    async def _cards(self, installation_ids: Iterable[int]) -> dict[int, dict[str, str]]:
        """Each installation's card, loaded once and rendered once per language shown."""
        locales = {s.locale for s in self.sockets}
        now = self.hub.now()
        cards: dict[int, dict[str, str]] = {}
        async with self.hub.db.session() as session:
            for installation_id in installation_ids:
                installation = await session.get(Installation, installation_id)
                if installation is None:
                    continue
                overview = await load_overview(session, installation, now)
                self.renders += 1
                cards[installation_id] = {
                    locale: render_card(overview, locale, oob=True) for locale in locales
                }
        return cards

    # -- what the hub passes on from the broker ------------------------------------------

    async def on_event(self, event: BoardEvent) -> None:
        self.mark((event.installation_id,))

    async def on_control(self, message: dict[str, Any]) -> None:
        if message.get("type") == "sessions_ended":
            ended = set(message.get("sessions", []))
            for socket in [s for s in self.sockets if s.session_hash in ended]:
                self.sockets.discard(socket)
                await self._close(socket, CLOSE_SESSION_ENDED)

    async def on_broker_state(self, connected: bool) -> None:
        was_up, self._broker_up = self._broker_up, connected
        if not connected:
            for socket in list(self.sockets):
                self._offer(socket, status_message("degraded"))
        elif not was_up:
            # A sign-out or a disabled account during the outage was never announced: ask
            # the database. Events published meanwhile never reached this worker either:
            # every card afresh.
            await self._close_ended_sessions()
            for socket in list(self.sockets):
                self._offer(socket, status_message("live"))
            self.mark(self.followed)

    async def _close_ended_sessions(self) -> None:
        hashes = {s.session_hash for s in self.sockets}
        if not hashes:
            return
        async with self.hub.db.session() as session:
            live = await live_sessions(session, hashes, self.hub.now())
        for socket in [s for s in self.sockets if s.session_hash not in live]:
            self.sockets.discard(socket)
            await self._close(socket, CLOSE_SESSION_ENDED)
