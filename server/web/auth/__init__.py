"""Signing in and out: staff (/login, set-password links), parents (/parent/login, activation
and reset links) and centre accounts (/portal/login)."""

from starlette.routing import BaseRoute

from . import parents, portal, staff, staff_links

routes: list[BaseRoute] = [*staff.routes, *parents.routes, *portal.routes, *staff_links.routes]
