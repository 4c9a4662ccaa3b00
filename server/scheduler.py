"""Background work: promote scheduled arrivals when their moment comes, fall back to the
predicted time for GPS trips whose phone went silent, expire the day's leftovers at midnight.
Compare-and-set makes each change happen once, whatever the number of workers doing this at
the same time. Every `RETENTION_EVERY` of the (injected) clock, delete
or anonymize what is past its retention period (server/privacy/retention.py)."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from .core import metrics
from .core.db import DatabaseUnavailable
from .pickups import service, trips
from .pickups.events import BoardEvent
from .privacy import retention
from .services import Services

log = logging.getLogger(__name__)

# Retention needs no second's precision: a quarter of an hour keeps the work small.
RETENTION_EVERY = timedelta(minutes=15)


async def run_due_work(svc: Services) -> list[BoardEvent]:
    now = svc.clock.now()
    async with svc.db.session() as session:
        events = await service.promote_due(session, now)
        events += await service.expire_past(session, now)
        await trips.forget_overdue_positions(session, now)
        # After forgetting: a trip past its 60 minutes has no fix left, it falls back too.
        events += await trips.fall_back_silent_trips(session, now)
        await session.commit()
    await svc.publish(events)
    return events


async def run_retention(svc: Services, *, dry_run: bool = False) -> retention.PurgeReport:
    """Delete or anonymize what is past its period (counts only in a dry run); the photo
    files no row refers to any more are deleted after the commit."""
    now = svc.clock.now()
    report = await retention.run(svc.db, svc.settings.photos_dir, now, dry_run=dry_run)
    if report.total and not dry_run:  # counts only: never whose
        log.info("retention: %s", {k: v for k, v in report.counts.items() if v})
    return report


async def _retention_if_due(svc: Services, due: datetime | None) -> datetime:
    """Run retention when `due` has come (or on the first tick); the next moment it is due."""
    now = svc.clock.now()
    if due is not None and now < due:
        return due
    await run_retention(svc)
    return now + RETENTION_EVERY


async def run_forever(svc: Services) -> None:
    retention_due: datetime | None = None
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        # Late: the event loop was busy elsewhere (a long render, a blocking call).
        metrics.TICK_LAG.set(max(loop.time() - due, 0.0))
        try:
            await run_due_work(svc)
            retention_due = await _retention_if_due(svc, retention_due)
            metrics.UP.labels("database").set(1)
        except DatabaseUnavailable as down:  # one line a tick, not a traceback
            metrics.UP.labels("database").set(0)
            log.warning("background pickup work waits for the database: %s", down)
        except Exception:  # the database may be restarting: say so, try again next tick
            log.exception("background pickup work failed; retrying")
        due = loop.time() + svc.settings.tick_seconds
        await asyncio.sleep(svc.settings.tick_seconds)
