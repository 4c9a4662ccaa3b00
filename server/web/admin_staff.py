"""/admin/staff (being built: see issue 4)."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
