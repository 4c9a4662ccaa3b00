"""The parent's phone (/parent/...): the family's page and announcing, the GPS trip, the live
status, the other adults who may pick up, photos, « Mes données » (export, correction,
consent); the installable app (manifest, service worker, offline page) and Web Push."""

from starlette.routing import BaseRoute

from . import app_shell, home, live, people, photos, privacy, push, trip

routes: list[BaseRoute] = [
    *home.routes,
    *trip.routes,
    *people.routes,
    *live.routes,
    *photos.routes,
    *privacy.routes,
    *app_shell.routes,
    *push.routes,
]
