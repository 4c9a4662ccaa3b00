"""The centre portal (/portal/...): profile, students, photo approvals."""

from starlette.routing import BaseRoute

from . import pages, photos

routes: list[BaseRoute] = [*pages.routes, *photos.routes]
