"""The wall display (/display/{token}): a board that only shows, behind a revocable link."""

from starlette.routing import BaseRoute

from . import page

routes: list[BaseRoute] = [*page.routes]
