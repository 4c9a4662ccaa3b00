"""The Redis broker: board events cross workers and hosts through Redis pub/sub.

One channel per installation (``relais:installation:{id}``), subscribed only while a board of
this worker watches it, plus one organization-wide control channel (``relais:control``).

Redis pub/sub keeps nothing for a subscriber that is away, so the broker never hides an
outage: redis-py's own silent retry/resubscribe is turned off, and every loss of the
subscription (or a failed PUBLISH) is reported to the listener as ``on_broker_state(False)``.
A single background task then reconnects with exponential backoff and jitter, re-subscribes
to every current channel, and only then reports ``on_broker_state(True)``: the hub answers
with a snapshot for every board, taken after the subscription is live, so nothing committed
meanwhile is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from typing import Any
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ..core import metrics
from ..pickups.events import BoardEvent
from .broker import BrokerListener

log = logging.getLogger(__name__)

CONTROL_CHANNEL = "relais:control"
INSTALLATION_PREFIX = "relais:installation:"


def installation_channel(installation_id: int) -> str:
    return f"{INSTALLATION_PREFIX}{installation_id}"


class _ConnectTimeout(RedisError):
    """Redis accepted the connection but did not confirm the subscription in time."""


class _Reconnect(Exception):
    """Raised inside the reader to drop the subscription and go through a reconnect."""


class RedisBroker:
    """The `Broker` protocol on Redis pub/sub (redis-py asyncio)."""

    def __init__(
        self,
        url: str,
        *,
        backoff_initial: float = 0.2,
        backoff_max: float = 5.0,
        connect_timeout: float = 2.0,
        command_timeout: float = 2.0,
        idle_ping: float = 1.0,
    ) -> None:
        parsed = urlsplit(url)
        self._where = f"{parsed.hostname}:{parsed.port or 6379}"
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        # After this long without a message the reader PINGs: a connection that died without
        # an error (seen when redis-server is killed) is then found within two pings.
        self._idle_ping = idle_ping
        self._listener: BrokerListener | None = None
        # Installations this worker's boards watch: the truth the subscription follows.
        self._wanted: set[int] = set()
        # No client-side retry: a failure must surface so the hub can resync its boards.
        # PUBLISH gets one immediate retry, on a fresh connection, for a stale pooled one.
        self._publisher: Redis = Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 1),
            socket_connect_timeout=connect_timeout,
            socket_timeout=command_timeout,
        )
        self._subscriber: Redis = Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=connect_timeout,
        )
        self._pubsub: PubSub | None = None  # set only while subscribed and live
        self._pending: PubSub | None = None  # the pub/sub connection being set up or used
        self._task: asyncio.Task[None] | None = None
        self._first_attempt: asyncio.Event | None = None
        self._connected: bool | None = None  # last state told to the listener
        self._publish_failed = False
        self._command_timeout = command_timeout
        # SUBSCRIBEs sent for the hub, waiting for the server's confirmation.
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self.pongs = 0  # idle-connection pings answered (observability, tests)

    @property
    def connected(self) -> bool:
        return bool(self._connected)

    def attach(self, listener: BrokerListener) -> None:
        self._listener = listener

    async def start(self) -> None:
        """Connect, or report the bus down and keep retrying in the background: never raises
        for an unreachable Redis."""
        if self._task is not None:
            return
        self._first_attempt = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="relais-redis-broker")
        await self._first_attempt.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._drop_pubsub()
        await self._subscriber.aclose()
        await self._publisher.aclose()
        self._wanted.clear()

    # -- subscriptions -------------------------------------------------------------------

    async def subscribe(self, installation_id: int) -> None:
        if installation_id in self._wanted:
            return
        self._wanted.add(installation_id)
        pubsub = self._pubsub
        if pubsub is None:
            return  # the reconnect subscribes to everything in `_wanted`
        # Return only once Redis confirms: the hub's snapshot, taken next, then cannot miss
        # an event published in between.
        channel = installation_channel(installation_id)
        confirmed = asyncio.get_running_loop().create_future()
        self._confirmations[channel] = confirmed
        try:
            await pubsub.subscribe(channel)
            await asyncio.wait_for(asyncio.shield(confirmed), self._command_timeout)
        except (RedisError, OSError, TimeoutError) as exc:
            # The reader sees the same broken connection and reconnects, re-subscribing
            # to everything in `_wanted`, this one included, then reports the bus back up.
            log.warning("redis subscribe to %s failed: %s", installation_id, exc)
        finally:
            if self._confirmations.get(channel) is confirmed:
                del self._confirmations[channel]

    async def unsubscribe(self, installation_id: int) -> None:
        if installation_id not in self._wanted:
            return
        self._wanted.discard(installation_id)
        pubsub = self._pubsub
        if pubsub is not None:
            try:
                await pubsub.unsubscribe(installation_channel(installation_id))
            except (RedisError, OSError) as exc:
                log.warning("redis unsubscribe from %s failed: %s", installation_id, exc)

    # -- publishing ----------------------------------------------------------------------

    async def publish(self, event: BoardEvent) -> None:
        await self._publish(installation_channel(event.installation_id), event.to_json())

    async def publish_control(self, message: dict[str, Any]) -> None:
        await self._publish(CONTROL_CHANNEL, json.dumps(message))

    async def _publish(self, channel: str, payload: str) -> None:
        try:
            await self._publisher.publish(channel, payload)
        except (RedisError, OSError) as exc:
            # The change is committed already; boards converge through snapshots once the bus
            # is back. Never fail the request for it.
            log.warning("redis publish to %s failed (bus down): %s", channel, exc)
            self._publish_failed = True
            await self._set_state(False)

    # -- the reader ----------------------------------------------------------------------

    async def _run(self) -> None:
        delay = self._backoff_initial
        try:
            while True:
                try:
                    pubsub = await self._connect()
                except (RedisError, OSError) as exc:
                    # The address without its password: logs must not carry secrets.
                    log.warning("redis broker cannot connect to %s: %s", self._where, exc)
                    await self._drop_pubsub()
                    await self._set_state(False)
                else:
                    delay = self._backoff_initial
                    await self._set_state(True)
                    self._mark_first_attempt()
                    try:
                        await self._read(pubsub)
                    except (RedisError, OSError, _Reconnect) as exc:
                        log.warning("redis broker lost its subscription: %s", exc)
                    await self._drop_pubsub()
                    await self._set_state(False)
                self._mark_first_attempt()
                # Jitter: wait between half and all of the current step, so workers spread out.
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self._backoff_max)
        finally:
            self._mark_first_attempt()

    def _mark_first_attempt(self) -> None:
        if self._first_attempt is not None:
            self._first_attempt.set()

    async def _connect(self) -> PubSub:
        self._publish_failed = False
        pubsub = self._subscriber.pubsub()
        # Keep it reachable for _drop_pubsub even if subscribing fails half-way.
        self._pending = pubsub
        sent = set(self._wanted)
        await pubsub.subscribe(CONTROL_CHANNEL, *(installation_channel(i) for i in sent))
        # Read the confirmations: the subscription is live on the server before we report
        # the bus up (and before the hub takes its snapshots).
        expected = 1 + len(sent)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0
        while expected > 0:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise _ConnectTimeout("no subscription confirmation from redis")
            message = await pubsub.get_message(timeout=remaining)
            if message is None:
                continue
            if message["type"] == "subscribe":
                expected -= 1
            else:
                await self._dispatch(message)
        # The publishing side must work too before we call the bus up.
        await self._publisher.ping()
        self._pubsub = pubsub
        # Boards may have come or gone while we connected: converge on `_wanted`.
        added = self._wanted - sent
        removed = sent - self._wanted
        if added:
            await pubsub.subscribe(*(installation_channel(i) for i in added))
        if removed:
            await pubsub.unsubscribe(*(installation_channel(i) for i in removed))
        return pubsub

    async def _read(self, pubsub: PubSub) -> None:
        loop = asyncio.get_running_loop()
        last_seen = loop.time()
        pinged = False
        while True:
            if self._publish_failed:
                raise _Reconnect("a publish failed")
            message = await pubsub.get_message(timeout=min(0.5, self._idle_ping / 4))
            now = loop.time()
            if message is not None:
                if pinged:
                    self.pongs += 1
                last_seen, pinged = now, False
                await self._dispatch(message)
                continue
            idle = now - last_seen
            if idle > 2 * self._idle_ping:
                raise _Reconnect(f"no answer from redis for {idle:.1f} s")
            if idle > self._idle_ping and not pinged:
                # A half-open connection shows no error; a PING must come back as a pong.
                await pubsub.ping()
                pinged = True

    async def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        channel = message.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        if kind == "subscribe" and isinstance(channel, str):
            confirmed = self._confirmations.get(channel)
            if confirmed is not None and not confirmed.done():
                confirmed.set_result(None)
            return
        if kind != "message" or self._listener is None or not isinstance(channel, str):
            return
        data = message["data"]
        try:
            if channel == CONTROL_CHANNEL:
                control = json.loads(data)
                if isinstance(control, dict):
                    await self._listener.on_control(control)
            elif channel.startswith(INSTALLATION_PREFIX):
                await self._listener.on_event(BoardEvent.from_json(data))
        except Exception:  # one bad message or listener error must not stop the reader
            log.exception("redis broker could not deliver a message on %s", channel)

    async def _drop_pubsub(self) -> None:
        self._pubsub = None
        # Subscriptions in flight are retried by the reconnect: release their waiters.
        for confirmed in self._confirmations.values():
            if not confirmed.done():
                confirmed.set_result(None)
        pubsub, self._pending = self._pending, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _set_state(self, connected: bool) -> None:
        if self._connected == connected:
            return
        self._connected = connected
        metrics.UP.labels("redis").set(1 if connected else 0)
        if connected:
            log.info("redis broker connected")
        if self._listener is not None:
            try:
                await self._listener.on_broker_state(connected)
            except Exception:
                log.exception("broker listener failed on state %s", connected)
