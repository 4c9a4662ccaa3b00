"""The presence board (/board): the page, its buttons and its socket."""

from starlette.routing import BaseRoute

from . import actions, page, socket

routes: list[BaseRoute] = [*page.routes, *actions.routes, *socket.routes]
