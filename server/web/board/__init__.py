"""The presence board (/board), its buttons and socket, and the wall display (/display/...)."""

from starlette.routing import BaseRoute

from . import pages

routes: list[BaseRoute] = [*pages.routes]
