"""create_app(settings): routes, middleware, lifespan. No business logic here."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from . import scheduler
from .core import metrics, templating
from .core.clock import Clock, clock_with_offset
from .core.db import Database, DatabaseUnavailable
from .core.mail import create_mailer
from .core.settings import Settings
from .push.keys import load_vapid
from .push.sender import PushSender
from .realtime.broker import Broker, MemoryBroker
from .realtime.hub import Hub
from .realtime.overview import OverviewFeed
from .realtime.redis_broker import RedisBroker
from .services import Services
from .web import admin, auth, board, dev, display, health, parent, photos, portal, privacy
from .web import metrics as metrics_page
from .web.api import routes as api
from .web.context import RequestContextMiddleware, database_unavailable, http_error
from .web.limits import BodyLimits
from .web.observe import Observe
from .web.sessions import SignInRequired, sign_in_required


class NoSniffStaticFiles(StaticFiles):
    """Static files whose type browsers take as sent (a .txt is never run as a script)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def create_broker(settings: Settings) -> Broker:
    """In-process for one worker; Redis pub/sub when RELAIS_REDIS_URL is set (several workers
    or hosts share the fan-out)."""
    if settings.redis_url:
        return RedisBroker(settings.redis_url)
    return MemoryBroker()


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    broker: Broker | None = None,
    background: bool = True,
) -> Starlette:
    settings = settings or Settings.from_env()
    clock = clock or clock_with_offset(settings.clock_offset_seconds)
    db = Database(settings.database_url)
    broker = broker or create_broker(settings)
    hub = Hub(db, broker, clock.now, settings.socket_queue_size)
    mailer = create_mailer(settings.smtp_url, db, clock)
    vapid = load_vapid(settings)
    push = PushSender(db, settings, vapid, clock.now)
    svc = Services(
        settings=settings,
        clock=clock,
        db=db,
        broker=broker,
        hub=hub,
        mailer=mailer,
        push=push,
        overview=OverviewFeed(hub),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        metrics.forget_stopped_workers()  # a worker restarted: the old one's gauges go
        await broker.start()
        await push.start()
        worker = asyncio.create_task(scheduler.run_forever(svc)) if background else None
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await svc.overview.close_all()
            await hub.close_all()
            if hub.background:
                # Work sent aside (an emergency's emails) ends before its database does; a
                # mail server that hangs is not waited for past the deadline.
                _done, pending = await asyncio.wait(set(hub.background), timeout=10)
                for task in pending:
                    task.cancel()
            await push.stop()
            await broker.stop()
            await db.dispose()
            metrics.worker_stopped()

    routes = [
        # First: the integrations' calls are the hot path, and the router tries routes in
        # order (a hundred page routes before it cost a tenth of a millisecond a call).
        Mount("/api/v1", routes=api.routes, name="api"),
        *health.routes,
        *metrics_page.routes,
        *auth.routes,
        *board.routes,
        *display.routes,
        *admin.routes,
        *parent.routes,
        *portal.routes,
        *photos.routes,
        *privacy.routes,
        *dev.routes,
        Mount(
            "/static/vendor",
            NoSniffStaticFiles(directory=settings.vendor_dir, check_dir=False),
            name="vendor",
        ),
        Mount("/static", NoSniffStaticFiles(directory=settings.static_dir), name="static"),
    ]
    app = Starlette(
        routes=routes,
        # Outermost first: the access line and request id (it sees every answer), the
        # Origin check and the CSRF cookie, then the body limits.
        middleware=[
            Middleware(Observe),
            Middleware(RequestContextMiddleware),
            Middleware(BodyLimits),
        ],
        exception_handlers={
            HTTPException: http_error,
            DatabaseUnavailable: database_unavailable,
            SignInRequired: sign_in_required,
        },
        lifespan=lifespan,
    )
    app.state.services = svc
    # Templates build links from route names (`url_for('admin.staff')`), never by hand.
    # Remembered: the router tries every route per lookup (30 µs), and a board of 300
    # children asks for two links a child.
    templating.add_globals(url_for=functools.lru_cache(maxsize=4096)(app.url_path_for))
    return app
