"""Signing in and out: the three sign-in pages (staff /login, parents /parent/login, centre
accounts /portal/login), parents' activation and reset links, staff set-password links. Who
is signed in: `web.sessions`."""

from starlette.routing import BaseRoute

from . import login, parents, staff_links

routes: list[BaseRoute] = [*login.routes, *parents.routes, *staff_links.routes]
