"""The hub: this worker's board sockets, grouped by installation and view.

Each installation has one channel task that handles its events in order. It holds the
installation's board (the read model of `pickups.board`) and applies each event's rows to it
without reading the database, reloading it on any doubt (a gap in the numbers, an event
without rows or of another kind, another day, a periodic check): the database stays the
source of truth. For each view it renders only what the view shows differently, once, and
hands the same string to every socket of that view. A socket is written to directly; only a
socket whose connection stops taking bytes gets a bounded queue and a writer task, and is
dropped (it resyncs on reconnect) when that queue is full, instead of slowing the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import types
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlmodel import col
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from ..core import metrics
from ..core.db import Database
from ..core.models import Display, Installation, SignInSession
from ..emergency.queries import FamilyNotice, Roll, family_notices, load_roll
from ..emergency.service import EVENT_KIND as EMERGENCY_EVENT
from ..pickups import rules
from ..pickups.board import (
    BoardChanges,
    BoardState,
    ViewKey,
    apply_event,
    arrivals,
    board_changes,
    load_board,
    same_board,
)
from ..pickups.events import BoardEvent
from ..pickups.family import (
    FamilyState,
    FamilyView,
    apply_family_event,
    load_family,
    same_day,
)
from .broker import Broker, BrokerListener
from .fragments import (
    UndoOffer,
    change_message,
    emergency_region,
    family_message,
    snapshot_message,
    status_message,
    undo_offers,
)

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
# How often a held board is compared with the database even when nothing seems wrong (and
# at the installation's local midnight, when its board starts a new day).
RECHECK_SECONDS = 300.0


@types.coroutine
def _resume(coro: Coroutine[Any, Any, None], waiting: Any) -> Generator[Any, Any, None]:
    """The rest of `coro`, which already ran up to its first suspension, where it yielded
    `waiting`: awaited in a task, that task waits on what the coroutine was waiting on."""
    while True:
        try:
            yield waiting
        except BaseException as error:  # cancelled while waiting: the coroutine decides
            try:
                waiting = coro.throw(error)
            except StopIteration:
                return
            continue
        yield from coro  # resumes it where it stopped, as its own task would
        return


@dataclass(eq=False)
class BoardSocket:
    websocket: WebSocket
    view: ViewKey | FamilyView
    session_hash: str | None
    display_id: int | None
    limit: int  # messages that may wait; one more and the socket is dropped
    pending: deque[str] = field(default_factory=deque)
    # Exists only while a write waits for the connection to take more bytes: a board that
    # keeps up costs no task per message, and an idle one none at all (memory per socket).
    writer: asyncio.Task[None] | None = None

    def offer(self, message: str) -> bool:
        """Write `message` now, or queue it behind a write that waits. False: the queue is
        full, the board stopped reading."""
        if self.writer is not None:
            if len(self.pending) >= self.limit:
                return False
            self.pending.append(message)
            return True
        # Sending a frame only hands bytes to the transport (uvicorn's websockets protocol
        # waits first only when the transport paused writing): run it right here, and make
        # a task only if it does have to wait.
        sending = self.websocket.send_text(message)
        try:
            waiting = sending.send(None)
        except StopIteration:
            return True
        except Exception:  # the socket went away: its serve() loop ends and cleans up
            return True
        self.writer = asyncio.create_task(self._write(_resume(sending, waiting)))
        return True

    async def _write(self, first: Awaitable[None]) -> None:
        try:
            await first
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
    resync: bool = False  # an open socket's (counted), not the first on connecting


class _Recheck:
    """Time to compare the held board with the database."""


class _Channel:
    """The sockets watching one installation, its board as they show it, and the task that
    feeds them in order."""

    def __init__(self, installation_id: int, hub: Hub) -> None:
        self.installation_id = installation_id
        self.hub = hub
        self.views: dict[ViewKey | FamilyView, set[BoardSocket]] = {}
        self.inbox: asyncio.Queue[BoardEvent | _SnapshotRequest | _Recheck] = asyncio.Queue()
        self.task = asyncio.create_task(self._run(), name=f"board-channel-{installation_id}")
        self.members = 0
        # The last event number sent to this installation's boards (None: none yet).
        self.last_seq: int | None = None
        # The whole board (every group) as this worker's boards show it; None while no board
        # watches. `loaded_seq`: the number it was last loaded at (events up to it are in it).
        self.board: BoardState | None = None
        self.loaded_seq = 0
        self.stale = False  # events may have been missed (the broker was down): reload
        self.loads = 0  # times the board was read from the database (tests count them)
        self.recheck: asyncio.TimerHandle | None = None
        # The last snapshot of each view: (the board it shows, rendered at, message).
        self.snapshots: dict[ViewKey, tuple[BoardState, datetime, str]] = {}
        # The emergency roll under way (None: none), read with the board, and the one the
        # boards were last sent: a change of it goes out with the change's message.
        self.roll: Roll | None = None
        self.roll_shown: Roll | None = None

    def sockets(self) -> list[BoardSocket]:
        return [s for group in self.views.values() for s in group]

    def board_sockets(self) -> list[BoardSocket]:
        return [s for s in self.sockets() if isinstance(s.view, ViewKey)]

    def close(self) -> None:
        self.task.cancel()
        if self.recheck is not None:
            self.recheck.cancel()

    async def _run(self) -> None:
        while True:
            items = [await self.inbox.get()]
            # Whatever else is already waiting is handled with it: under load, one render
            # per view covers several changes instead of falling further behind.
            while not self.inbox.empty():
                items.append(self.inbox.get_nowait())
            events = [i for i in items if isinstance(i, BoardEvent)]
            late: list[BoardEvent] = []
            if events:
                events, late = await self._in_order(events, items)
            recheck = any(isinstance(i, _Recheck) for i in items)
            try:
                if events or late or recheck:
                    await self._changes(events, late, recheck)
            except Exception:  # a bad render must not kill the channel; boards resync later
                # The numbers only: the events' rows name children.
                seqs = [e.seq for e in events]
                log.exception("board channel %s failed on events %s", self.installation_id, seqs)
                self.stale = True
            for item in items:
                if isinstance(item, _SnapshotRequest):
                    if item.resync:
                        metrics.SNAPSHOT_RESYNCS.inc()
                    try:
                        await self._snapshot(item.socket)
                    except Exception:
                        log.exception("board channel %s failed on a snapshot", self.installation_id)

    async def _in_order(
        self, events: list[BoardEvent], items: list[BoardEvent | _SnapshotRequest | _Recheck]
    ) -> tuple[list[BoardEvent], list[BoardEvent]]:
        """(the events to apply, in seq order; those behind a number already handled).
        Changes commit in seq order but two requests may publish in the other order: a
        missing number is waited for a moment, then given up on (the held board reloads,
        which takes it in); should it come after all, it is already on the boards."""
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

    # -- the held board ------------------------------------------------------------------

    def _board_views(self) -> list[ViewKey]:
        return [v for v in self.views if isinstance(v, ViewKey)]

    async def _load(self, now: datetime) -> BoardState | None:
        """The board from the database (None: the installation is gone)."""
        async with self.hub.db.session() as session:
            installation = await session.get(Installation, self.installation_id)
            if installation is None:
                return None
            board = await load_board(session, installation, now)
            self.roll = await load_roll(session, self.installation_id)
        self.loads += 1
        self.loaded_seq, self.stale = board.seq, False
        self._schedule_recheck(board, now)
        return board

    def _schedule_recheck(self, board: BoardState, now: datetime) -> None:
        if self.recheck is not None:
            self.recheck.cancel()
        zone = ZoneInfo(board.timezone)
        local = now.astimezone(zone)
        midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), zone)
        delay = min(self.hub.recheck_seconds, (midnight - local).total_seconds() + 1)
        self.recheck = asyncio.get_running_loop().call_later(
            max(delay, 0.0), self.inbox.put_nowait, _Recheck()
        )

    async def _current(self, now: datetime) -> BoardState | None:
        """The held board, reloaded first when there is none, it may have missed events or
        it shows another day; boards already open get what changed."""
        board = self.board
        if (
            board is not None
            and not self.stale
            and rules.local_day(now, board.timezone) == board.day
        ):
            return board
        loaded = await self._load(now)
        if loaded is not None and board is not None:
            self._send(board, loaded, [])
        self.board = loaded
        return loaded

    async def _changes(
        self, events: list[BoardEvent], late: list[BoardEvent], recheck: bool
    ) -> None:
        if events:
            self.last_seq = events[-1].seq
        if self._board_views():
            await self._boards(events, late, recheck)
        else:
            self.board = None  # nobody here shows it: it would only go stale
        if any(isinstance(view, FamilyView) for view in self.views):
            await self._families(events, late)

    async def _boards(
        self, events: list[BoardEvent], late: list[BoardEvent], recheck: bool
    ) -> None:
        """Apply a run of events (consecutive, usually one) to the held board, or reload it
        on any doubt, then send each view what it shows differently."""
        now = self.hub.now()
        before = self.board
        after = None if before is None or self.stale or recheck else before
        # Behind the held board: in it already if a load covered it; else a repeat: doubt.
        if any(e.seq > self.loaded_seq for e in late):
            after = None
        for event in events:
            if after is None:
                break
            if event.seq <= after.seq:
                if event.seq > self.loaded_seq:
                    after = None
                continue
            after = apply_event(after, event, now)
        if after is None:
            after = await self._load(now)
            if after is None:
                return
        self.board = after
        if before is None:
            self._send_snapshots(after, now)
        else:
            self._send(before, after, events)

    def _send(self, before: BoardState, after: BoardState, events: list[BoardEvent]) -> None:
        """Each view's changes between two states of the held board: rendered once per view,
        the same string for every socket of it."""
        if after.seq <= before.seq:
            if not same_board(before, after):
                # Different at the same number (a new day, or a board that drifted): the
                # boards cannot tell a change from one they have, so they get it whole.
                self._send_snapshots(after, after.now)
            return
        first = before.seq + 1
        at = min((e.committed_at for e in events if e.seq >= first), default=0.0)
        # The roll changed (an emergency started, a check, a release, the end): rendered once
        # per language and kind of board, with the change.
        roll_changed = self.roll != self.roll_shown
        self.roll_shown = self.roll
        regions: dict[tuple[bool, str], str] = {}
        fresh = [e for e in events if e.seq >= first]
        # An undo brings an alert back: not a new one, no chime.
        quiet = {e.pickup_id for e in fresh if e.quiet}
        offers = undo_offers(fresh, after)
        touched = tuple(sorted({e.pickup_id for e in fresh if e.pickup_id is not None}))
        by_group: dict[int | None, tuple[BoardState, BoardChanges, bool, tuple[UndoOffer, ...]]]
        by_group = {}
        for view in self._board_views():
            if view.group_id not in by_group:
                shown = after.for_view(view.group_id)
                changes = board_changes(before.for_view(view.group_id), shown)
                # A chime whenever an alert appears in this view: new, or its child moved in.
                chime = bool(arrivals(before.for_view(view.group_id), shown) - quiet)
                mine = tuple(o for o in offers if view.group_id in (None, o.group_id))
                by_group[view.group_id] = (shown, changes, chime, mine)
            shown, changes, chime, mine = by_group[view.group_id]
            extra = ""
            if roll_changed:
                region_key = (view.interactive, view.locale)
                if region_key not in regions:
                    regions[region_key] = emergency_region(self.roll, view, after.now)
                extra = regions[region_key]
            message = change_message(
                shown,
                view,
                changes,
                first=first,
                at=at,
                chime=chime,
                undos=mine if view.interactive else (),
                settled=touched if view.interactive else (),
                extra=extra,
            )
            self._deliver_all(self.views.get(view, ()), message)
        if at:
            metrics.COMMIT_TO_SEND.observe(max(time.time() - at, 0.0))

    def _send_snapshots(self, board: BoardState, now: datetime) -> None:
        for view in self._board_views():
            message = self._snapshot_message(board, view, now)
            sockets = self.views.get(view, ())
            metrics.SNAPSHOT_RESYNCS.inc(len(sockets))
            self._deliver_all(sockets, message)

    def _snapshot_message(self, board: BoardState, view: ViewKey, now: datetime) -> str:
        cached = self.snapshots.get(view)
        if cached and cached[0] is board and now - cached[1] < SNAPSHOT_REUSE:
            return cached[2]  # boards reconnecting together share one render
        self.roll_shown = self.roll
        message = snapshot_message(
            replace(board, now=now).for_view(view.group_id),
            view,
            emergency_region(self.roll, view, now),
        )
        self.snapshots[view] = (board, now, message)
        return message

    async def _snapshot(self, socket: BoardSocket) -> None:
        if isinstance(socket.view, FamilyView):
            family = await self.hub.load_family(socket.view.guardian_id)
            # The banner only when there is one: a page opened before it started has the
            # empty region to fill, and a page without one matches the page as served.
            notices = await self.hub.family_notices(family) or None
            self.views.setdefault(socket.view, set()).add(socket)
            self._deliver_all((socket,), family_message(family, socket.view, notices))
            return
        now = self.hub.now()
        board = await self._current(now)
        if board is None:
            await socket.close(CLOSE_DISPLAY_REVOKED)
            return
        message = self._snapshot_message(board, socket.view, now)
        # Joining the view only now means every later change reaches this socket after its
        # snapshot, as a difference from the very board the snapshot shows.
        self.views.setdefault(socket.view, set()).add(socket)
        self._deliver_all((socket,), message)
        if not self.hub.broker_up:
            # Connected while the event bus is down: the board must not look live.
            self._deliver_all((socket,), status_message("degraded"))

    # -- family pages --------------------------------------------------------------------

    async def _families(self, events: list[BoardEvent], late: list[BoardEvent]) -> None:
        """The family pages a change may concern: each family followed from the events' rows
        (or reloaded on any doubt), rendered once per page variant."""
        every = [*late, *events]
        # Empty `children` means "unknown": then every family page is reloaded.
        children = (
            None if any(not e.children for e in every) else {c for e in every for c in e.children}
        )
        now = self.hub.now()
        # An emergency started or ended: the families' banners are read again (a drill, or a
        # check on the roll, leaves them as they are, which costs one small query a family).
        emergency = any(e.kind == EMERGENCY_EVENT for e in every)
        done: dict[int, FamilyState] = {}
        notices: dict[int, list[FamilyNotice] | None] = {}
        for view, sockets in list(self.views.items()):
            if not isinstance(view, FamilyView):
                continue
            family = done.get(view.guardian_id)
            if family is None:
                held = self.hub.families.get(view.guardian_id)
                if held is not None and not same_day(held, now):
                    held = None  # the day turned: the page starts afresh
                # A parent's page shows only their own children: only a change that may
                # concern them costs anything.
                if (
                    held is not None
                    and children is not None
                    and not {c.child_id for c in held.children} & children
                ):
                    continue
                family = held
                for event in events if not late else ():
                    if family is None:
                        break
                    family = apply_family_event(family, event, now)
                if family is None or late:
                    family = await self.hub.load_family(view.guardian_id)
                self.hub.families[view.guardian_id] = family
                done[view.guardian_id] = family
                notices[view.guardian_id] = (
                    await self.hub.family_notices(family) if emergency else None
                )
            self._deliver_all(sockets, family_message(family, view, notices[view.guardian_id]))

    # -- sockets -------------------------------------------------------------------------

    def _deliver_all(self, sockets: Iterable[BoardSocket], message: str) -> None:
        """The same message to each socket, counted once (a count per socket would cost
        more than the write itself, with two thousand boards)."""
        delivered = 0
        for socket in list(sockets):
            delivered += self._deliver(socket, message)
        metrics.EVENTS_DELIVERED.inc(delivered)

    def _deliver(self, socket: BoardSocket, message: str) -> bool:
        if socket.offer(message):
            return True
        log.warning("dropping a board that stopped reading (view %s)", socket.view)
        metrics.SLOW_SOCKETS_DROPPED.inc()
        self.discard(socket)
        # Closing may wait on the stuck connection: do it aside, keeping a reference.
        task = asyncio.create_task(socket.close(CLOSE_TOO_SLOW))
        self.hub.background.add(task)
        task.add_done_callback(self.hub.background.discard)
        return False

    def discard(self, socket: BoardSocket) -> None:
        group = self.views.get(socket.view)
        if group is not None:
            group.discard(socket)
            if not group:
                del self.views[socket.view]
                if isinstance(socket.view, ViewKey):
                    self.snapshots.pop(socket.view, None)

    def broadcast(self, message: str) -> None:
        self._deliver_all(self.sockets(), message)


class Hub:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        now: Callable[[], datetime],
        queue_size: int = 256,
        recheck_seconds: float = RECHECK_SECONDS,
    ) -> None:
        self.db = db
        self.broker = broker
        self.now = now
        self.queue_size = queue_size
        self.recheck_seconds = recheck_seconds
        self._channels: dict[int, _Channel] = {}
        self._lock = asyncio.Lock()
        self._broker_up = True
        self.background: set[asyncio.Task[None]] = set()
        # The family pages open on this worker, held as they show (by guardian), and how
        # many of each are open.
        self.families: dict[int, FamilyState] = {}
        self._family_pages: Counter[int] = Counter()
        # Other live pages of this worker (the director's overview) that hear what the
        # broker says: every event of the installations they follow, control messages and
        # the bus's state. They follow an installation through the same channels as boards,
        # so the broker subscribes to it once for all.
        self.listeners: list[BrokerListener] = []
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
        connected = metrics.CONNECTED.labels("parent" if isinstance(view, FamilyView) else "board")
        if isinstance(view, FamilyView):
            self._family_pages[view.guardian_id] += 1
        ids = installation_ids if isinstance(view, FamilyView) else {view.installation_id}
        channels = [await self._join(i) for i in sorted(ids)]
        if not channels:
            self._forget_family(view)
            await websocket.close(1008)
            return
        connected.inc()
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
                    channel.inbox.put_nowait(_SnapshotRequest(socket, resync=True))
        except (WebSocketDisconnect, RuntimeError, ValueError):
            pass
        finally:
            connected.dec()
            await socket.stop_writing()
            for joined in channels:
                joined.discard(socket)
                await self._leave(joined)
            self._forget_family(view)

    def _forget_family(self, view: ViewKey | FamilyView) -> None:
        """A family page closed: the family stops being held with its last page."""
        if isinstance(view, FamilyView):
            self._family_pages[view.guardian_id] -= 1
            if self._family_pages[view.guardian_id] <= 0:
                del self._family_pages[view.guardian_id]
                self.families.pop(view.guardian_id, None)

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
                channel.close()

    async def family_notices(self, family: FamilyState) -> list[FamilyNotice]:
        """The real emergencies under way where a family's children are: its page's banner."""
        async with self.db.session() as session:
            return await family_notices(session, [c.child_id for c in family.children])

    async def follow(self, installation_id: int) -> None:
        """A listener's page watches this installation: its events reach this worker."""
        await self._join(installation_id)

    async def unfollow(self, installation_id: int) -> None:
        channel = self._channels.get(installation_id)
        if channel is not None:
            await self._leave(channel)

    async def load_family(self, guardian_id: int) -> FamilyState:
        """A family's page from the database, then held while one of its pages is open."""
        async with self.db.session() as session:
            family = await load_family(session, guardian_id, self.now())
        if self._family_pages[guardian_id]:
            self.families[guardian_id] = family
        return family

    def recheck_now(self) -> None:
        """Compare every held board with the database now, as the periodic check does."""
        for channel in self._channels.values():
            channel.inbox.put_nowait(_Recheck())

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
        for listener in self.listeners:
            await listener.on_event(event)

    async def on_control(self, message: dict[str, Any]) -> None:
        for listener in self.listeners:
            await listener.on_control(message)
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
        for listener in self.listeners:
            await listener.on_broker_state(connected)
        if connected and not was_up:
            # Control messages sent during the outage (a sign-out, a disabled account, a
            # revoked wall screen) never arrived: ask the database before resyncing anyone.
            await self._close_ended_sockets()
        for channel in self._channels.values():
            if not connected:
                channel.stale = True  # events published meanwhile never reach this worker
                channel.broadcast(status_message("degraded"))
            elif not was_up:
                channel.stale = True
                for socket in channel.sockets():
                    channel.inbox.put_nowait(_SnapshotRequest(socket, resync=True))

    async def _close_ended_sockets(self) -> None:
        sockets = {s for c in self._channels.values() for s in c.sockets()}
        hashes = {s.session_hash for s in sockets if s.session_hash is not None}
        displays = {s.display_id for s in sockets if s.display_id is not None}
        if not hashes and not displays:
            return
        now = self.now()
        async with self.db.session() as session:
            live = set(
                (
                    await session.execute(
                        select(col(SignInSession.token_hash)).where(
                            col(SignInSession.token_hash).in_(hashes),
                            col(SignInSession.expires_at) > now,
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
            channel.close()
        self._channels.clear()
