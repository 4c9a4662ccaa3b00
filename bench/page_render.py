"""The board page of an installation of 300 children, rendered server side.

The app is built in this process (server.app.create_app on a seeded SQLite file) and driven
through httpx's ASGI transport; the time is taken around the ASGI call itself, from the
request entering the app to the last byte of the response leaving it: middleware, session
lookup, queries and templates, no network. A few announced pickups give the page alerts.

    python -m bench.page_render
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from server.app import create_app
from server.core.settings import Settings

from .databases import sqlite_url
from .seed import Seeded, seed
from .stats import percentile

CHILDREN = 300
PER_GROUP = 15  # twenty groups
ALERTS = 12
REQUESTS = 50
WARM_UP = 5


class Timed:
    """Wraps an ASGI app and keeps how long each HTTP call spent inside it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seconds: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            self.seconds.append(time.perf_counter() - started)


async def _measure(seeded: Seeded, workdir: Path) -> dict[str, Any]:
    settings = Settings.from_env(
        {
            "RELAIS_DATABASE_URL": seeded.database_url,
            "RELAIS_SECRET_KEY": "bench-page-render-secret-key-not-used-elsewhere",
            "RELAIS_VAR_DIR": str(workdir / "var"),
        }
    )
    # No lifespan through the ASGI transport: no scheduler, no broker to start; publishing
    # to the in-process broker with no board open is a no-op.
    app = Timed(create_app(settings, background=False))
    installation = seeded.installations[0]
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://bench") as browser,
        httpx.AsyncClient(
            transport=transport,
            base_url="http://bench",
            headers={"Authorization": f"Bearer {seeded.api_token}"},
        ) as api,
    ):
        eta = datetime.now(ZoneInfo(installation.timezone)).strftime("%H:%M")
        for child, guardian in installation.children[:ALERTS]:
            response = await api.post(
                "/api/v1/pickups",
                json={"child_id": child, "guardian_id": guardian, "mode": "eta", "eta": eta},
            )
            response.raise_for_status()
        await browser.get("/login")
        await browser.post(
            "/login",
            data={
                "email": seeded.director_email,
                "password": seeded.director_password,
                "csrf_token": browser.cookies["relais_csrf"],
            },
        )
        url = f"/board?installation={installation.id}&group=all"
        size = 0
        for _ in range(WARM_UP):
            await browser.get(url)
        app.seconds.clear()
        for _ in range(REQUESTS):
            response = await browser.get(url)
            response.raise_for_status()
            size = len(response.content)
    times = sorted(s * 1000.0 for s in app.seconds)
    return {
        "children": CHILDREN,
        "groups": CHILDREN // PER_GROUP,
        "alerts": ALERTS,
        "requests": len(times),
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(percentile(times, 90), 2),
        "max_ms": round(times[-1], 2),
        "page_bytes": size,
    }


def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="relais-page-") as tmp:
        workdir = Path(tmp)
        seeded = seed(sqlite_url(workdir / "page.db"), 1, CHILDREN, PER_GROUP)
        return asyncio.run(_measure(seeded, workdir))


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
