"""The centre portal (/portal/...): profile, students, photo approvals."""

from starlette.routing import BaseRoute

from . import pages, photos, students

routes: list[BaseRoute] = [*pages.routes, *students.routes, *photos.routes]
