"""The privacy notice: anyone may read it, without signing in. Its language is its address
(/confidentialite, /privacy), so a link in either language always says the same."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...core import i18n
from ...privacy import policy
from ..context import page, services
from ..sessions import guardian_principal, staff_principal

PATHS = {"fr_CA": "privacy.notice_fr", "en": "privacy.notice_en"}


async def _notice(request: Request, locale: str) -> Response:
    i18n.set_locale(locale)
    # A signed-in parent or staff member reads their own daycare's contact; anyone else, each
    # daycare this server runs.
    who = await guardian_principal(request) or await staff_principal(request)
    async with services(request).db.session() as session:
        organizations = await policy.notices(session, who.organization_id if who else None)
    other = PATHS["en" if locale != "en" else "fr_CA"]
    return page(
        request,
        "privacy/notice.html",
        organizations=organizations,
        kinds=policy.KINDS,
        incident_years=policy.INCIDENT_YEARS,
        lang_switch_url=request.app.url_path_for(other),
    )


async def notice_fr(request: Request) -> Response:
    return await _notice(request, "fr_CA")


async def notice_en(request: Request) -> Response:
    return await _notice(request, "en")


routes: list[BaseRoute] = [
    Route("/confidentialite", notice_fr, methods=["GET"], name="privacy.notice_fr"),
    Route("/privacy", notice_en, methods=["GET"], name="privacy.notice_en"),
]
