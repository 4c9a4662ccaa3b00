"""Photos served to those allowed to see them (/photos/...)."""

from starlette.routing import BaseRoute

from . import serve

routes: list[BaseRoute] = [*serve.routes]
