"""Background work: promote scheduled arrivals when their moment comes, expire the day's
leftovers at midnight. Compare-and-set makes each transition happen once, whatever the number
of workers doing this at the same time."""

from __future__ import annotations

import asyncio
import logging

from .core.db import DatabaseUnavailable
from .pickups import service
from .pickups.events import BoardEvent
from .services import Services

log = logging.getLogger(__name__)


async def run_due_work(svc: Services) -> list[BoardEvent]:
    now = svc.clock.now()
    async with svc.db.session() as session:
        events = await service.promote_due(session, now)
        events += await service.expire_past(session, now)
        await session.commit()
    await svc.publish(events)
    return events


async def run_forever(svc: Services) -> None:
    while True:
        try:
            await run_due_work(svc)
        except DatabaseUnavailable as down:  # one line a tick, not a traceback
            log.warning("background pickup work waits for the database: %s", down)
        except Exception:  # the database may be restarting: say so, try again next tick
            log.exception("background pickup work failed; retrying")
        await asyncio.sleep(svc.settings.tick_seconds)
