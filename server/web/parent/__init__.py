"""The parent's phone (/parent/...): the family's page and announcing, the GPS trip, the live
status, the other adults who may pick up, photos, and « Mes données » (export, correction,
consent)."""

from starlette.routing import BaseRoute

from . import home, live, people, photos, privacy, trip

routes: list[BaseRoute] = [
    *home.routes,
    *trip.routes,
    *people.routes,
    *live.routes,
    *photos.routes,
    *privacy.routes,
]
