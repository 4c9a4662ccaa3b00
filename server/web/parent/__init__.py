"""The parent's phone (/parent/...): announcing, the live page, authorized adults, photos."""

from starlette.routing import BaseRoute

from . import home, photos

routes: list[BaseRoute] = [*home.routes, *photos.routes]
