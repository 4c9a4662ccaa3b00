"""The director's pages (/admin/...): one module per section, routes gathered here."""

from starlette.routing import BaseRoute

from . import guardians, home, integrations, log, overview, photos, reports, roster, staff, tokens

routes: list[BaseRoute] = [
    *guardians.routes,
    *home.routes,
    *integrations.routes,
    *log.routes,
    *overview.routes,
    *photos.routes,
    *reports.routes,
    *roster.routes,
    *staff.routes,
    *tokens.routes,
]
