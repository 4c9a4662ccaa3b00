"""The announcers: HTTP calls paced on a fixed schedule, open loop.

Pickup k starts at t0 + k / rate, round robin over the installations, as its own task whether
or not earlier calls have returned, so a slow server meets the same offered load and its
slowness shows in the latencies instead of thinning the load (no coordinated omission).
Each pickup is four events: the announcement, then Appeler, Prêt and Départ at +gap, +2·gap
and +3·gap. A step waits for its own announcement's answer (it needs the pickup's id); when
that answer comes after the step's moment, the step leaves late and the lag is recorded.

Every call that made its event is kept as a `Sent`: the installation, the event number the
change got (Relais's API answers it as "seq"; the floor and the peer are told it), the instant
the request left (time.time(), the clock the boards read too) and how long the call took. The
runner joins these with what the boards received: request → board latency per delivery.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import aiohttp

from .seed import Seeded
from .stats import percentile

STEPS = ("called", "ready", "departed")
LATE_MS = 10.0  # a call that leaves this much after its moment counts as late


@dataclass(frozen=True)
class Plan:
    t0: float  # wall clock (time.time()) of the first announcement
    pickups_per_s: float  # events/s = 4 × this
    duration_s: float  # announcements start within [t0, t0 + duration_s)
    gap_s: float  # between the four events of one pickup

    @property
    def pickups(self) -> int:
        return int(self.pickups_per_s * self.duration_s)

    @property
    def end(self) -> float:
        """When the last event is due."""
        return self.t0 + self.duration_s + len(STEPS) * self.gap_s


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, read whole."""

    status_code: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """The announcers' HTTP client: aiohttp, whose own work per request is a fraction of
    httpx's, so the time from "sent" to the bytes leaving is the machine's, not the client
    library's (with httpx the floor itself measured about 4 ms more at the median). Enough
    connections that calls never queue in the client: open loop to the socket."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.session = aiohttp.ClientSession(
            base_url=base_url,
            headers=headers,
            connector=aiohttp.TCPConnector(limit=512),
            timeout=aiohttp.ClientTimeout(total=30.0),
        )

    async def post(self, path: str, json: dict[str, Any]) -> Answer:
        async with self.session.post(path, json=json) as response:
            body = await response.read()
            return Answer(response.status, response.headers.get("content-type", ""), body)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()


class Refused(Exception):
    """The server answered, but not with success: the event was not made."""

    def __init__(self, response: Answer) -> None:
        reason = ""
        if response.content_type.startswith("application/json"):
            reason = str(response.json().get("reason", ""))
        super().__init__(f"HTTP {response.status_code} {reason}".strip())


def _check(response: Answer, expected: int) -> Answer:
    if response.status_code != expected:
        raise Refused(response)
    return response


@dataclass(frozen=True)
class Made:
    """A call that made its event: the event's number in its installation (None when the
    server did not say), and for an announcement the handle its steps need."""

    seq: int | None
    handle: str = ""


def _seq(body: Any) -> int | None:
    """The "seq" of an API answer, when it carries one."""
    seq = body.get("seq") if isinstance(body, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


class Target(Protocol):
    """What an announcer calls: Relais's API, or the floor's and the peer's /announce."""

    installations: list[str]
    headers: dict[str, str]  # sent with every call (Relais: the API token)

    async def announce(self, client: Client, installation: str) -> Made:
        """Announce one pickup. Raises Refused."""
        ...

    async def step(self, client: Client, installation: str, handle: str, step: int) -> Made: ...


@dataclass(frozen=True)
class Sent:
    """One call that made its event."""

    installation: str
    kind: str  # "announce" or "step"
    seq: int | None  # None: the answer carried no event number (no request-timed sample)
    sent: float  # time.time() just before the request left
    call_ms: float  # until its answer was read


@dataclass
class Outcome:
    """What the announcer did, for the runner's accounting."""

    events_ok: Counter[str] = field(default_factory=Counter)  # per installation key
    failures: Counter[str] = field(default_factory=Counter)
    lags_ms: list[float] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def sends(self) -> dict[str, list[tuple[int, float]]]:
        """Per installation key, (seq, send instant) of every call whose answer gave its seq."""
        found: dict[str, list[tuple[int, float]]] = {}
        for call in self.sent:
            if call.seq is not None:
                found.setdefault(call.installation, []).append((call.seq, call.sent))
        return found

    def in_window(self, window: tuple[float, float]) -> list[Sent]:
        return [c for c in self.sent if window[0] <= c.sent < window[1]]

    def summary(self, window: tuple[float, float]) -> dict[str, Any]:
        """Call durations cover the calls sent inside the steady window."""
        lags = sorted(self.lags_ms)
        steady = self.in_window(window)
        announce = sorted(c.call_ms for c in steady if c.kind == "announce")
        steps = sorted(c.call_ms for c in steady if c.kind == "step")
        return {
            "events_ok": sum(self.events_ok.values()),
            "events_in_window": len(steady),
            "failures": dict(self.failures.most_common(10)),
            "calls_without_seq": sum(1 for c in self.sent if c.seq is None),
            "late_calls": sum(1 for lag in lags if lag > LATE_MS),
            "max_lag_ms": round(lags[-1], 1) if lags else 0.0,
            "announce_p50_ms": round(percentile(announce, 50), 2),
            "announce_p99_ms": round(percentile(announce, 99), 2),
            "step_p50_ms": round(percentile(steps, 50), 2),
            "step_p99_ms": round(percentile(steps, 99), 2),
        }


class Announcer:
    def __init__(self, target: Target, plan: Plan, client: Client) -> None:
        self.target, self.plan, self.client = target, plan, client
        self.outcome = Outcome()

    async def _call(
        self, due: float, installation: str, kind: str, call: Callable[[], Awaitable[Made]]
    ) -> Made | None:
        """Make one call at its moment: what it made, or None when it failed (counted by
        reason)."""
        delay = due - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sent = time.time()
        self.outcome.lags_ms.append((sent - due) * 1000.0)
        try:
            made = await call()
        except Refused as refused:
            self.outcome.failures[str(refused)] += 1
            return None
        except (aiohttp.ClientError, TimeoutError) as error:
            self.outcome.failures[type(error).__name__] += 1
            return None
        call_ms = (time.time() - sent) * 1000.0
        self.outcome.sent.append(Sent(installation, kind, made.seq, sent, call_ms))
        self.outcome.events_ok[installation] += 1
        return made

    async def _pickup(self, k: int) -> None:
        installations = self.target.installations
        installation = installations[k % len(installations)]
        start = self.plan.t0 + k / self.plan.pickups_per_s
        announce = partial(self.target.announce, self.client, installation)
        made = await self._call(start, installation, "announce", announce)
        if made is None:
            return  # refused: the steps are not sent (nor expected on the boards)
        handle = made.handle
        for i in range(len(STEPS)):
            step = partial(self.target.step, self.client, installation, handle, i)
            if (
                await self._call(start + (i + 1) * self.plan.gap_s, installation, "step", step)
                is None
            ):
                return

    async def run(self) -> Outcome:
        tasks: list[asyncio.Task[None]] = []
        for k in range(self.plan.pickups):
            delay = self.plan.t0 + k / self.plan.pickups_per_s - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self._pickup(k)))
        await asyncio.gather(*tasks)
        return self.outcome


class RelaisTarget:
    """Relais's integration API: POST /api/v1/pickups (ETA now: the alert is due at once),
    then POST /api/v1/pickups/{id}/status three times."""

    def __init__(self, seeded: Seeded) -> None:
        self.installations = [i.external_id for i in seeded.installations]
        self.headers = {"Authorization": f"Bearer {seeded.api_token}"}
        self.zone = {i.external_id: ZoneInfo(i.timezone) for i in seeded.installations}
        # Each child is announced once: after Départ a child has left for the day.
        self.children = {i.external_id: list(reversed(i.children)) for i in seeded.installations}

    async def announce(self, client: Client, installation: str) -> Made:
        if not self.children[installation]:
            raise RuntimeError(f"installation {installation}: no child left to announce")
        child, guardian = self.children[installation].pop()
        eta = datetime.now(self.zone[installation]).strftime("%H:%M")
        response = await client.post(
            "/api/v1/pickups",
            json={"child_id": child, "guardian_id": guardian, "mode": "eta", "eta": eta},
        )
        body = _check(response, 201).json()
        return Made(_seq(body), str(body["id"]))

    async def step(self, client: Client, installation: str, handle: str, step: int) -> Made:
        response = await client.post(
            f"/api/v1/pickups/{handle}/status", json={"status": STEPS[step]}
        )
        return Made(_seq(_check(response, 200).json()))


class AnnounceTarget:
    """The floor's and the peer's protocol: POST /announce/<installation>/ with
    {"seq", "chime", "content"}; the server stamps `at` and fans out. Numbers run per
    installation in the order the calls leave."""

    def __init__(self, installations: list[str], content: str) -> None:
        self.installations = installations
        self.headers: dict[str, str] = {}
        self.content = content
        self.seq: Counter[str] = Counter()

    async def _post(self, client: Client, installation: str, chime: bool) -> Made:
        self.seq[installation] += 1
        seq = self.seq[installation]
        response = await client.post(
            f"/announce/{installation}/",
            json={"seq": seq, "chime": chime, "content": self.content},
        )
        _check(response, 200)
        # The number was chosen here: it is known whatever the answer says.
        return Made(seq, installation)  # nothing to follow: each event stands alone

    async def announce(self, client: Client, installation: str) -> Made:
        return await self._post(client, installation, True)

    async def step(self, client: Client, installation: str, handle: str, step: int) -> Made:
        return await self._post(client, installation, False)


def client(base_url: str, headers: dict[str, str] | None = None) -> Client:
    return Client(base_url, headers)


def filler(message_bytes: int) -> str:
    """Board-like markup for the floor's and the peer's messages: content such that the whole
    message, as the server sends it (JSON, quotes escaped, UTF-8), is `message_bytes` long."""
    unit = (
        '<article class="alert alert--announced" id="pickup-0">'
        '<h3 class="alert__child">Florence Gagnon</h3><p class="alert__meta">Groupe 1 · '
        "Marie Gagnon · ETA 17:45</p></article>"
    )

    def size(content: str) -> int:
        message = {"seq": 100, "at": time.time(), "chime": False, "content": content}
        return len(json.dumps(message, ensure_ascii=False).encode())

    low, high = 0, message_bytes
    while low < high:  # the longest prefix of repeated units that still fits
        middle = (low + high + 1) // 2
        if size((unit * (middle // len(unit) + 1))[:middle]) <= message_bytes:
            low = middle
        else:
            high = middle - 1
    return (unit * (low // len(unit) + 1))[:low]
