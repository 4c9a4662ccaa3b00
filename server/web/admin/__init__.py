"""The director's pages (/admin/...): one module per section, routes gathered here."""

from starlette.routing import BaseRoute

from . import (
    emergency,
    emergency_report,
    guardians,
    home,
    incidents,
    integrations,
    log,
    overview,
    photos,
    privacy,
    reports,
    roster,
    staff,
    tokens,
)

routes: list[BaseRoute] = [
    *emergency.routes,
    *emergency_report.routes,
    *guardians.routes,
    *home.routes,
    *incidents.routes,
    *integrations.routes,
    *log.routes,
    *overview.routes,
    *photos.routes,
    *privacy.routes,
    *reports.routes,
    *roster.routes,
    *staff.routes,
    *tokens.routes,
]
