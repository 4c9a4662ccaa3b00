"""The long-lived objects one running app owns, built once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from .clock import Clock
from .db import Database
from .mail import Mailer
from .realtime.broker import Broker
from .realtime.events import BoardEvent
from .realtime.hub import Hub
from .settings import Settings


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    broker: Broker
    hub: Hub
    mailer: Mailer

    async def publish(self, events: list[BoardEvent]) -> None:
        """Call after the transaction that produced the events has committed."""
        for event in events:
            await self.broker.publish(event)
