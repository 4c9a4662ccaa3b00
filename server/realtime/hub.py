"""The hub: this worker's board sockets, grouped by installation and view.

Each installation has one channel task that handles its events in order: it loads the
board once, renders one message per view, and hands the same string to every socket of that
view. Each socket has a bounded queue and its own writer, so a tablet that stops reading is
dropped (and resyncs on reconnect) instead of slowing the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..db import Database
from ..models import CenterSession, Display, GuardianSession, Installation, StaffSession
from ..pickups.board import ViewKey, load_board
from ..pickups.events import BoardEvent
from ..pickups.family import FamilyView, load_family
from .broker import Broker
from .fragments import event_message, family_message, snapshot_message, status_message

log = logging.getLogger(__name__)

# Close codes the browser sees. 1012 (service restart) and 1013 (try again later) make the
# board reconnect; 4001/4003 tell it to stop (session ended, display revoked).
CLOSE_TOO_SLOW = 1013
CLOSE_SHUTDOWN = 1012
CLOSE_SESSION_ENDED = 4001
CLOSE_DISPLAY_REVOKED = 4003
# How long a channel waits for an event published out of order before going on without it.
REORDER_WAIT = 0.05
# A snapshot is reused for boards of the same view while nothing changed and it is this
# fresh: after an outage or a restart every board resyncs at once, one render serves them.
# (Kept short: the page carries the server's "now" for its waiting times.)
SNAPSHOT_REUSE = timedelta(seconds=2)


@dataclass(eq=False)
class BoardSocket:
    websocket: WebSocket
    view: ViewKey | FamilyView
    session_hash: str | None
    display_id: int | None
    limit: int  # messages that may wait; one more and the socket is dropped
    pending: deque[str] = field(default_factory=deque)
    # Runs only while messages wait: an idle board costs no task (memory per socket).
    writer: asyncio.Task[None] | None = None

    def offer(self, message: str) -> bool:
        if len(self.pending) >= self.limit:
            return False
        self.pending.append(message)
        if self.writer is None:
            self.writer = asyncio.create_task(self._write())
        return True

    async def _write(self) -> None:
        try:
            while self.pending:
                await self.websocket.send_text(self.pending.popleft())
        except Exception:  # the socket went away: its serve() loop ends and cleans up
            self.pending.clear()
        finally:
            self.writer = None

    async def stop_writing(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    async def close(self, code: int) -> None:
        with contextlib.suppress(Exception):
            if self.websocket.application_state != WebSocketState.DISCONNECTED:
                await self.websocket.close(code)


@dataclass(frozen=True)
class _SnapshotRequest:
    socket: BoardSocket


class _Channel:
    """The sockets watching one installation, and the task that feeds them in order."""

    def __init__(self, installation_id: int, hub: Hub) -> None:
        self.installation_id = installation_id
        self.hub = hub
        self.views: dict[ViewKey | FamilyView, set[BoardSocket]] = {}
        # The children each family page shows, as of its last render.
        self.family_children: dict[FamilyView, frozenset[int]] = {}
        self.inbox: asyncio.Queue[BoardEvent | _SnapshotRequest] = asyncio.Queue()
        self.task = asyncio.create_task(self._run(), name=f"board-channel-{installation_id}")
        self.members = 0
        # The last event number sent to this installation's boards (None: none yet).
        self.last_seq: int | None = None
        # The last snapshot of each view: (seq, rendered at, message).
        self.snapshots: dict[ViewKey, tuple[int, datetime, str]] = {}

    def sockets(self) -> list[BoardSocket]:
        return [s for group in self.views.values() for s in group]

    def board_sockets(self) -> list[BoardSocket]:
        return [s for s in self.sockets() if isinstance(s.view, ViewKey)]

    async def _run(self) -> None:
        while True:
            items = [await self.inbox.get()]
            # Whatever else is already waiting is handled with it: under load, one board
            # load and one render cover several changes instead of falling further behind.
            while not self.inbox.empty():
                items.append(self.inbox.get_nowait())
            events = [i for i in items if isinstance(i, BoardEvent)]
            late: list[BoardEvent] = []
            if events:
                events, late = await self._in_order(events, items)
            try:
                if late:
                    await self._events(late, late=True)
                if events:
                    await self._events(events)
            except Exception:  # a bad render must not kill the channel; boards resync later
                log.exception("board channel %s failed on %r", self.installation_id, events)
            for item in items:
                if isinstance(item, _SnapshotRequest):
                    try:
                        await self._snapshot(item.socket)
                    except Exception:
                        log.exception("board channel %s failed on a snapshot", self.installation_id)

    async def _in_order(
        self, events: list[BoardEvent], items: list[BoardEvent | _SnapshotRequest]
    ) -> tuple[list[BoardEvent], list[BoardEvent]]:
        """(the events to send, in seq order; those behind a number already sent). Changes
        commit in seq order but two requests may publish in the other order: a missing
        number is waited for a moment, then given up on (boards see the gap and resync);
        should it come after all, it still goes out, marked late."""
        deadline = asyncio.get_running_loop().time() + REORDER_WAIT
        while True:
            events.sort(key=lambda e: e.seq)
            last = self.last_seq
            late = [e for e in events if last is not None and e.seq <= last]
            fresh = [e for e in events if last is None or e.seq > last]
            if not fresh:
                return fresh, late
            expected = fresh[0].seq if last is None else last + 1
            contiguous = [e.seq for e in fresh] == list(range(expected, expected + len(fresh)))
            remaining = deadline - asyncio.get_running_loop().time()
            if contiguous or remaining <= 0:
                return fresh, late
            try:
                item = await asyncio.wait_for(self.inbox.get(), remaining)
            except TimeoutError:
                return fresh, late
            items.append(item)
            if isinstance(item, BoardEvent):
                events.append(item)

    async def _snapshot(self, socket: BoardSocket) -> None:
        if isinstance(socket.view, FamilyView):
            message, children = await self.hub.render_family(socket.view)
            self.family_children[socket.view] = children
            self.views.setdefault(socket.view, set()).add(socket)
            self._deliver(socket, message)
            return
        now = self.hub.now()
        async with self.hub.db.session() as session:
            installation = await session.get(Installation, self.installation_id)
            if installation is None:
                await socket.close(CLOSE_DISPLAY_REVOKED)
                return
            cached = self.snapshots.get(socket.view)
            if cached and cached[0] == installation.event_seq and now - cached[1] < SNAPSHOT_REUSE:
                message = cached[2]  # boards reconnecting together share one render
            else:
                state = await load_board(session, installation, now)
                message = snapshot_message(state.for_view(socket.view.group_id), socket.view)
                self.snapshots[socket.view] = (state.seq, now, message)
        # Joining the view only now means every later event reaches this socket after its
        # snapshot; events it already contains arrive with an older seq and are ignored.
        self.views.setdefault(socket.view, set()).add(socket)
        self._deliver(socket, message)
        if not self.hub.broker_up:
            # Connected while the event bus is down: the board must not look live.
            self._deliver(socket, status_message("degraded"))

    async def _events(self, events: list[BoardEvent], late: bool = False) -> None:
        """One message per view for a run of consecutive events (usually just one). Late
        events (behind a number already sent) go out marked so: their content is current,
        only their number is old."""
        if not late:
            self.last_seq = events[-1].seq
        if not self.views:
            return
        groups = {g for e in events for g in e.groups}
        # Empty `children` means "unknown": then every family page re-renders.
        children = (
            None if any(not e.children for e in events) else {c for e in events for c in e.children}
        )
        state = None
        if any(isinstance(view, ViewKey) for view in self.views):
            async with self.hub.db.session() as session:
                installation = await session.get(Installation, self.installation_id)
                if installation is None:
                    return
                state = await load_board(session, installation, self.hub.now(), groups)
        for view, sockets in list(self.views.items()):
            if isinstance(view, FamilyView):
                # A parent's page shows only their own children: one render per family, and
                # only when the change may concern them.
                known = self.family_children.get(view)
                if children is not None and known is not None and not known & children:
                    continue
                message, shown = await self.hub.render_family(view)
                self.family_children[view] = shown
            else:
                assert state is not None
                message = event_message(state.for_view(view.group_id), view, events, late=late)
            for socket in list(sockets):
                self._deliver(socket, message)

    def _deliver(self, socket: BoardSocket, message: str) -> None:
        if not socket.offer(message):
            log.warning("dropping a board that stopped reading (view %s)", socket.view)
            self.discard(socket)
            # Closing may wait on the stuck connection: do it aside, keeping a reference.
            task = asyncio.create_task(socket.close(CLOSE_TOO_SLOW))
            self.hub.background.add(task)
            task.add_done_callback(self.hub.background.discard)

    def discard(self, socket: BoardSocket) -> None:
        group = self.views.get(socket.view)
        if group is not None:
            group.discard(socket)
            if not group:
                del self.views[socket.view]
                if isinstance(socket.view, FamilyView):
                    self.family_children.pop(socket.view, None)

    def broadcast(self, message: str) -> None:
        for socket in self.sockets():
            self._deliver(socket, message)


class Hub:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        now: Callable[[], datetime],
        queue_size: int = 256,
    ) -> None:
        self.db = db
        self.broker = broker
        self.now = now
        self.queue_size = queue_size
        self._channels: dict[int, _Channel] = {}
        self._lock = asyncio.Lock()
        self._broker_up = True
        self.background: set[asyncio.Task[None]] = set()
        broker.attach(self)

    # -- sockets -------------------------------------------------------------------------

    async def serve(
        self,
        websocket: WebSocket,
        view: ViewKey | FamilyView,
        *,
        session_hash: str | None = None,
        display_id: int | None = None,
        installation_ids: frozenset[int] = frozenset(),
    ) -> None:
        """Serve one accepted socket until it closes: a board (one installation) or a parent's
        page (the installations of their children, `installation_ids`)."""
        socket = BoardSocket(websocket, view, session_hash, display_id, self.queue_size)
        ids = installation_ids if isinstance(view, FamilyView) else {view.installation_id}
        channels = [await self._join(i) for i in sorted(ids)]
        if not channels:
            await websocket.close(1008)
            return
        channel = channels[0]
        channel.inbox.put_nowait(_SnapshotRequest(socket))
        for other in channels[1:]:
            other.views.setdefault(view, set()).add(socket)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    data = json.loads(message.get("text") or message.get("bytes") or b"")
                except ValueError:
                    continue  # a malformed frame is ignored: the board must stay live
                if isinstance(data, dict) and data.get("type") == "snapshot":
                    channel.inbox.put_nowait(_SnapshotRequest(socket))
        except (WebSocketDisconnect, RuntimeError, ValueError):
            pass
        finally:
            await socket.stop_writing()
            for joined in channels:
                joined.discard(socket)
                await self._leave(joined)

    async def _join(self, installation_id: int) -> _Channel:
        async with self._lock:
            channel = self._channels.get(installation_id)
            if channel is None:
                channel = _Channel(installation_id, self)
                self._channels[installation_id] = channel
                await self.broker.subscribe(installation_id)
            channel.members += 1
            return channel

    async def _leave(self, channel: _Channel) -> None:
        async with self._lock:
            channel.members -= 1
            if channel.members == 0 and self._channels.get(channel.installation_id) is channel:
                del self._channels[channel.installation_id]
                await self.broker.unsubscribe(channel.installation_id)
                channel.task.cancel()

    async def render_family(self, view: FamilyView) -> tuple[str, frozenset[int]]:
        async with self.db.session() as session:
            state = await load_family(session, view.guardian_id, self.now())
        return family_message(state, view), frozenset(c.child_id for c in state.children)

    @property
    def broker_up(self) -> bool:
        return self._broker_up

    def connection_count(self) -> int:
        return len({s for c in self._channels.values() for s in c.sockets()})

    # -- broker callbacks ----------------------------------------------------------------

    async def on_event(self, event: BoardEvent) -> None:
        channel = self._channels.get(event.installation_id)
        if channel is not None:
            channel.inbox.put_nowait(event)

    async def on_control(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "sessions_ended":
            ended = set(message.get("sessions", []))
            await self._close_where(lambda s: s.session_hash in ended, CLOSE_SESSION_ENDED)
        elif kind == "display_revoked":
            display_id = message.get("display_id")
            await self._close_where(lambda s: s.display_id == display_id, CLOSE_DISPLAY_REVOKED)

    async def on_broker_state(self, connected: bool) -> None:
        """While the event bus is down boards say so; when it returns, all resync."""
        was_up, self._broker_up = self._broker_up, connected
        if connected and not was_up:
            # Control messages sent during the outage (a sign-out, a disabled account, a
            # revoked wall screen) never arrived: ask the database before resyncing anyone.
            await self._close_ended_sockets()
        for channel in self._channels.values():
            if not connected:
                channel.broadcast(status_message("degraded"))
            elif not was_up:
                for socket in channel.sockets():
                    channel.inbox.put_nowait(_SnapshotRequest(socket))

    async def _close_ended_sockets(self) -> None:
        sockets = {s for c in self._channels.values() for s in c.sockets()}
        hashes = {s.session_hash for s in sockets if s.session_hash is not None}
        displays = {s.display_id for s in sockets if s.display_id is not None}
        if not hashes and not displays:
            return
        now = self.now()
        async with self.db.session() as session:
            live: set[str] = set()
            for table in (StaffSession, GuardianSession, CenterSession):
                live.update(
                    (
                        await session.execute(
                            select(col(table.token_hash)).where(
                                col(table.token_hash).in_(hashes), col(table.expires_at) > now
                            )
                        )
                    ).scalars()
                )
            shown = set(
                (
                    await session.execute(
                        select(col(Display.id)).where(
                            col(Display.id).in_(displays), col(Display.revoked_at).is_(None)
                        )
                    )
                ).scalars()
            )
        await self._close_where(
            lambda s: s.session_hash is not None and s.session_hash not in live,
            CLOSE_SESSION_ENDED,
        )
        await self._close_where(
            lambda s: s.display_id is not None and s.display_id not in shown,
            CLOSE_DISPLAY_REVOKED,
        )

    async def _close_where(self, predicate: Callable[[BoardSocket], bool], code: int) -> None:
        for channel in list(self._channels.values()):
            for socket in channel.sockets():
                if predicate(socket):
                    channel.discard(socket)
                    await socket.close(code)

    async def close_all(self) -> None:
        for channel in list(self._channels.values()):
            for socket in channel.sockets():
                await socket.close(CLOSE_SHUTDOWN)
            channel.task.cancel()
        self._channels.clear()
