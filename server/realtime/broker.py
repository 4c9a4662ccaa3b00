"""The broker fans board events out to every worker whose boards watch an installation.

`MemoryBroker` serves one process (the embedded default). A Redis implementation plugs into
the same interface for several workers: one channel per installation, subscribed only while
a board of this worker watches it.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from ..pickups.events import BoardEvent


class BrokerListener(Protocol):
    """What the broker calls back: the worker's hub."""

    async def on_event(self, event: BoardEvent) -> None: ...

    async def on_control(self, message: dict[str, Any]) -> None: ...

    async def on_broker_state(self, connected: bool) -> None: ...


class Broker(Protocol):
    def attach(self, listener: BrokerListener) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def subscribe(self, installation_id: int) -> None: ...

    async def unsubscribe(self, installation_id: int) -> None: ...

    async def publish(self, event: BoardEvent) -> None: ...

    async def publish_control(self, message: dict[str, Any]) -> None:
        """Organization-wide control messages, e.g. sessions ended (logout, account disabled)."""
        ...


class MemoryBroker:
    """In-process fan-out: events published here reach this process's hub only."""

    def __init__(self) -> None:
        self._listener: BrokerListener | None = None
        self._subscribed: set[int] = set()

    def attach(self, listener: BrokerListener) -> None:
        self._listener = listener

    async def start(self) -> None:
        if self._listener is not None:
            await self._listener.on_broker_state(True)

    async def stop(self) -> None:
        self._subscribed.clear()

    async def subscribe(self, installation_id: int) -> None:
        self._subscribed.add(installation_id)

    async def unsubscribe(self, installation_id: int) -> None:
        self._subscribed.discard(installation_id)

    async def publish(self, event: BoardEvent) -> None:
        if self._listener is not None and event.installation_id in self._subscribed:
            # Round-trip through JSON so the memory broker exercises the same wire format
            # as a networked one.
            await self._listener.on_event(BoardEvent.from_json(event.to_json()))

    async def publish_control(self, message: dict[str, Any]) -> None:
        if self._listener is not None:
            await self._listener.on_control(json.loads(json.dumps(message)))
