"""The director's photo approvals (/admin/photos/...); the list is a section of /admin
(admin/home.py)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from ..photo_requests import decision_routes
from ..sessions import require_admin

routes: list[BaseRoute] = decision_routes("admin", require_admin, back="admin.home")
