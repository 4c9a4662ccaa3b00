"""The presence board (/board): the page, its buttons and its socket."""

from starlette.routing import BaseRoute

from . import actions, emergency, page, socket

routes: list[BaseRoute] = [*page.routes, *actions.routes, *emergency.routes, *socket.routes]
