"""/admin/incidents: the register of confidentiality incidents (ss. 3.5–3.8) — record one,
read the register, download it as CSV."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...privacy import incidents
from ..context import attachment, services
from ..sessions import require_admin
from .common import admin_form, admin_page, organization_zone, see_other


async def incidents_page(
    request: Request, *, error: str = "", form: dict[str, str] | None = None
) -> Response:
    principal = await require_admin(request)
    svc = services(request)
    async with svc.db.session() as session:
        register = await incidents.register(session, principal.organization_id)
        zone = await organization_zone(session, principal.organization_id)
    return admin_page(
        request,
        "admin/incidents.html",
        "incidents",
        status_code=400 if error else 200,
        incidents=register,
        error=error,
        form=form or {},
        today=svc.clock.now().astimezone(zone).date().isoformat(),
    )


async def incidents_home(request: Request) -> Response:
    return await incidents_page(request)


async def record_incident(request: Request) -> Response:
    principal, form = await admin_form(request)
    fields = {key: str(form.get(key, "")) for key in form}
    svc = services(request)
    async with svc.db.session() as session:
        zone = await organization_zone(session, principal.organization_id)
        parsed = incidents.parse(fields, svc.clock.now().astimezone(zone).date())
        if isinstance(parsed, str):
            return await incidents_page(request, error=parsed, form=fields)
        incidents.record(
            session, principal.organization_id, parsed, principal.name, svc.clock.now()
        )
        await session.commit()
    return see_other(request, "admin.incidents")


async def incidents_csv(request: Request) -> Response:
    principal = await require_admin(request)
    async with services(request).db.session() as session:
        register = await incidents.register(session, principal.organization_id)
    return attachment(
        incidents.to_csv(register), "text/csv; charset=utf-8", "registre-incidents.csv"
    )


routes = [
    Route("/admin/incidents", incidents_home, methods=["GET"], name="admin.incidents"),
    Route("/admin/incidents", record_incident, methods=["POST"], name="admin.incident_create"),
    Route("/admin/incidents.csv", incidents_csv, methods=["GET"], name="admin.incidents_csv"),
]
