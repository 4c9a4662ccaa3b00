"""The parent app (/parent): announce an arrival by time or GPS, follow the child live."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
