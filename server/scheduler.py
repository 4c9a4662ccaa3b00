"""Background work: promote scheduled arrivals when their moment comes, expire the day's
leftovers at midnight. Compare-and-set makes each transition happen once, whatever the number
of workers doing this at the same time."""

from __future__ import annotations

import asyncio
import logging

from .core import metrics
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
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        # Late: the event loop was busy elsewhere (a long render, a blocking call).
        metrics.TICK_LAG.set(max(loop.time() - due, 0.0))
        try:
            await run_due_work(svc)
            metrics.UP.labels("database").set(1)
        except DatabaseUnavailable as down:  # one line a tick, not a traceback
            metrics.UP.labels("database").set(0)
            log.warning("background pickup work waits for the database: %s", down)
        except Exception:  # the database may be restarting: say so, try again next tick
            log.exception("background pickup work failed; retrying")
        due = loop.time() + svc.settings.tick_seconds
        await asyncio.sleep(svc.settings.tick_seconds)
