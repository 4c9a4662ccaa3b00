"""The long-lived objects one running app owns, built once by `create_app`."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from .core import metrics
from .core.clock import Clock
from .core.db import Database
from .core.mail import Mailer
from .core.settings import Settings
from .pickups.events import BoardEvent
from .push.sender import PushSender
from .realtime.broker import Broker
from .realtime.hub import Hub
from .realtime.overview import OverviewFeed


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: Database
    broker: Broker
    hub: Hub
    mailer: Mailer
    push: PushSender
    overview: OverviewFeed  # the directors' live overviews of this worker

    async def commit_and_publish(self, session: AsyncSession, events: list[BoardEvent]) -> None:
        """Commit the transaction that produced `events`, then tell every board."""
        await session.commit()
        await self.publish(events)

    async def publish(self, events: list[BoardEvent]) -> None:
        """Call after the transaction that produced the events has committed. The boards
        first; a parent's phone is told from a background queue (never waited for)."""
        committed_at = time.time()
        for event in events:
            await self.broker.publish(replace(event, committed_at=committed_at))
        metrics.EVENTS_PUBLISHED.inc(len(events))
        self.push.notify(events)
