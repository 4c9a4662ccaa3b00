"""The parent side as an installable web app: its manifest (in the visitor's language), its
service worker (scope /parent: the offline page, the notifications) and the page shown when
the network is gone."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from ...core.i18n import _, current_locale
from ...core.templating import render, static_url
from ..context import page
from ..routing import get

THEME_COLOUR = "#0b6e4f"  # --brand in relais.css
BACKGROUND_COLOUR = "#f6f4ef"  # --paper
SCOPE = "/parent"


async def manifest(request: Request) -> Response:
    start = request.app.url_path_for("parent.home")
    body = {
        "id": start,
        "name": _("Relais — my children"),
        "short_name": "Relais",
        "description": _("Tell the daycare you are on your way; know when your child is ready."),
        "lang": "en" if current_locale() == "en" else "fr-CA",
        "start_url": start,
        "scope": SCOPE,
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": [
            {"src": static_url("icons/relais-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icons/relais-512.png"), "sizes": "512x512", "type": "image/png"},
            {
                "src": static_url("icons/relais-maskable-512.png"),
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return JSONResponse(body, media_type="application/manifest+json")


async def service_worker(request: Request) -> Response:
    """The worker's script, with the addresses it caches (they change when the files do,
    and so does the script: browsers then install the new one)."""
    script = render(
        "parent/sw.js",
        offline_url=request.app.url_path_for("parent.offline"),
        home_url=request.app.url_path_for("parent.home"),
        stylesheet=static_url("css/relais.css"),
        offline_script=static_url("js/offline.js"),
        icon=static_url("icons/relais-192.png"),
    )
    return Response(
        script,
        media_type="text/javascript",
        headers={
            # The script lives at /parent/sw.js; its scope is /parent itself.
            "Service-Worker-Allowed": SCOPE,
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def offline(request: Request) -> Response:
    """Fetched once by the service worker, shown in place of any /parent page it cannot reach."""
    return page(request, "parent/offline.html")


routes: list[BaseRoute] = [
    get("/parent/manifest.webmanifest", manifest, "parent.manifest"),
    get("/parent/sw.js", service_worker, "parent.service_worker"),
    get("/parent/offline", offline, "parent.offline"),
]
