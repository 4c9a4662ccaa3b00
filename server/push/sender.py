"""Sending notices from a background queue, after the commit: a board or a button answer
never waits for a push service. Each delivery has a timeout; 429, 5xx and timeouts are tried
again with backoff; a subscription its push service calls gone (404, 410) is deleted.

Only the worker that made a change sends its notices (`Services.publish` hands them here),
so a phone is told once however many workers follow the boards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from py_vapid import Vapid
from pywebpush import WebPusher

from ..core.db import Database
from ..core.settings import Settings
from ..pickups.events import BoardEvent
from . import subscriptions
from .keys import subject
from .notices import EMERGENCY, READY, EmergencyNotice, Notice, emergency_payload, notices, payload
from .subscriptions import Target

log = logging.getLogger(__name__)

# Notices waiting beyond this are dropped (and said in the log): a stuck push service must
# not grow the server's memory.
QUEUE_SIZE = 10_000
# Deliveries under way at once.
CONCURRENCY = 32
# A notice still waiting this long on the push service is no use to a parent at the door.
TTL_SECONDS = 15 * 60
LONGEST_RETRY_AFTER = 60.0
GONE = frozenset({404, 410})


def _retryable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


def _retry_after(headers: Any) -> float | None:
    raw = headers.get("Retry-After") if headers is not None else None
    try:
        return min(float(raw), LONGEST_RETRY_AFTER) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: the usual backoff does


class PushSender:
    def __init__(
        self, db: Database, settings: Settings, vapid: Vapid, now: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.vapid = vapid
        self.subject = subject(settings)
        self.now = now
        self.timeout = settings.push_timeout_seconds
        self.retry = settings.push_retry_seconds
        self.attempts = max(1, settings.push_attempts)
        self.queue: asyncio.Queue[Notice | EmergencyNotice] = asyncio.Queue(QUEUE_SIZE)
        self.deliveries: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._worker: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    # -- the queue -------------------------------------------------------------------------

    def notify(self, events: list[BoardEvent]) -> None:
        """Queue the notices of committed `events`; returns at once."""
        for notice in notices(events):
            try:
                self.queue.put_nowait(notice)
            except asyncio.QueueFull:
                log.warning("push queue full: a %s notice was dropped", notice.state)

    def notify_emergency(self, notice: EmergencyNotice) -> None:
        """Queue a real emergency's notice to its guardians' phones; returns at once."""
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            log.warning("push queue full: an emergency notice was dropped")

    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self._worker = asyncio.create_task(self._run(), name="push-sender")

    async def stop(self) -> None:
        tasks = [t for t in (self._worker, *self.deliveries) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._http is not None:
            await self._http.close()

    async def drain(self) -> None:
        """Wait until every queued notice is delivered or given up on (tests, shutdown)."""
        await self.queue.join()
        while self.deliveries:
            await asyncio.gather(*self.deliveries, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            notice = await self.queue.get()
            try:
                async with self.db.session() as session:
                    if isinstance(notice, EmergencyNotice):
                        found = await subscriptions.guardian_targets(
                            session, notice.guardian_ids, self.now()
                        )
                    else:
                        found = await subscriptions.targets(
                            session,
                            notice.pickup_id,
                            notice.state,
                            self.now(),
                            correction=notice.correction,
                        )
                for target in found:
                    task = asyncio.create_task(self._deliver(notice, target))
                    self.deliveries.add(task)
                    task.add_done_callback(self.deliveries.discard)
            except Exception:  # the database was away: this notice is lost, not the queue
                state = EMERGENCY if isinstance(notice, EmergencyNotice) else notice.state
                log.exception("push: could not find whom to tell of a %s", state)
            finally:
                self.queue.task_done()

    # -- one delivery ----------------------------------------------------------------------

    async def _deliver(self, notice: Notice | EmergencyNotice, target: Target) -> None:
        if isinstance(notice, EmergencyNotice):
            data = emergency_payload(notice, target.locale)
        else:
            data = payload(notice.state, target.first_name, target.locale)
        wait = self.retry
        for attempt in range(1, self.attempts + 1):
            async with self._slots:
                status, headers = await self._post(notice, target, data)
            if status is not None and status < 300:
                return
            if status in GONE:
                async with self.db.session() as session:
                    await subscriptions.forget(session, target.subscription_id)
                    await session.commit()
                return
            if not _retryable(status) or attempt == self.attempts:
                log.warning(
                    "push: %s refused after %d attempts (%s)", _host(target), attempt, status
                )
                return
            await asyncio.sleep(_retry_after(headers) or wait)
            wait *= 2

    async def _post(
        self, notice: Notice | EmergencyNotice, target: Target, data: bytes
    ) -> tuple[int | None, Any]:
        """(the push service's status, its headers); (None, None) when it did not answer."""
        assert self._http is not None, "start() first"
        endpoint = urlsplit(target.endpoint)
        claims = {"sub": self.subject, "aud": f"{endpoint.scheme}://{endpoint.netloc}"}
        if isinstance(notice, EmergencyNotice):  # an emergency closure wakes every phone
            urgency, topic = "high", f"emergency-{notice.emergency_id}"
        else:
            # RFC 8030: « Prêt » wakes the phone; a newer step of the same pickup replaces
            # one the phone has not fetched yet.
            urgency = "high" if notice.state == READY else "normal"
            topic = f"pickup-{notice.pickup_id}"
        headers = {**self.vapid.sign(claims), "Urgency": urgency, "Topic": topic}
        pusher = WebPusher(target.as_subscription_info(), aiohttp_session=self._http)
        try:
            async with asyncio.timeout(self.timeout):
                response = await pusher.send_async(
                    data,
                    headers,
                    ttl=TTL_SECONDS,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                )
        except (TimeoutError, aiohttp.ClientError, OSError):
            return None, None
        assert isinstance(response, aiohttp.ClientResponse)
        return response.status, response.headers


def _host(target: Target) -> str:
    """Where a push went, for the log: the push service, never the browser's address."""
    return urlsplit(target.endpoint).hostname or "?"
