"""The demo's developer pages (/dev/...): every email written, links clickable. Demo mode only."""

from starlette.routing import BaseRoute

from . import outbox

routes: list[BaseRoute] = [*outbox.routes]
