"""/admin/privacy: the person in charge of the protection of personal information and the
retention periods; the parents' requests for correction; a family's data — exported for them,
or erased now, after a confirmation that names everyone it erases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...accounts.authz import StaffPrincipal
from ...core.i18n import _
from ...core.models import ActorKind, Guardian, RectificationRequest
from ...photos.service import remove_files
from ...privacy import erase, export, family, policy, rectification
from ..context import attachment, services
from ..limits import not_found
from ..lookups import owned
from ..sessions import require_admin
from .common import admin_form, admin_page, organization_zone, see_other

RECENT_EXPORTS = 50


async def privacy_page(
    request: Request, *, error: str = "", form: dict[str, str] | None = None
) -> Response:
    principal = await require_admin(request)
    org_id = principal.organization_id
    async with services(request).db.session() as session:
        settings = await policy.settings_of(session, org_id)
        requests = await rectification.open_requests(session, org_id)
        exports = await export.recent_exports(session, org_id, RECENT_EXPORTS)
        zone = await organization_zone(session, org_id)
    return admin_page(
        request,
        "admin/privacy.html",
        "privacy",
        status_code=400 if error else 200,
        settings=settings,
        kinds=policy.KINDS,
        incident_years=policy.INCIDENT_YEARS,
        requests=requests,
        exports=exports,
        field_label=rectification.field_label,
        tz_info=zone,
        error=error,
        form=form or {},
        saved=request.query_params.get("saved") == "1",
    )


async def privacy_home(request: Request) -> Response:
    return await privacy_page(request)


async def save_settings(request: Request) -> Response:
    principal, form = await admin_form(request)
    fields = {key: str(form.get(key, "")).strip() for key in form}
    name = fields.get("officer_name", "")[:200]
    title = fields.get("officer_title", "")[:200]
    email = fields.get("officer_email", "").lower()[:254]
    if not name or not title or "@" not in email:
        return await privacy_page(
            request,
            error=_("Name the person in charge: their name, their title and an email address."),
            form=fields,
        )
    periods: dict[str, int] = {}
    for kind in policy.KINDS:
        value = policy.parse_days(fields.get(kind.column, ""), kind)
        if value is None:
            message = _("“%(kind)s”: a number of days from %(min)s to %(max)s.")
            error = message % {"kind": kind.label(), "min": kind.minimum, "max": kind.maximum}
            return await privacy_page(request, error=error, form=fields)
        periods[kind.column] = value
    async with services(request).db.session() as session:
        settings = await policy.settings_of(session, principal.organization_id)
        settings.officer_name, settings.officer_title, settings.officer_email = name, title, email
        for column, value in periods.items():
            setattr(settings, column, value)
        session.add(settings)
        await session.commit()
    return see_other(request, "admin.privacy", query={"saved": 1})


async def resolve_request(request: Request) -> Response:
    principal, _form = await admin_form(request)
    request_id: int = request.path_params["request_id"]
    svc = services(request)
    async with svc.db.session() as session:
        row = await owned(session, RectificationRequest, request_id, principal.organization_id)
        if row.resolved_at is None:
            rectification.resolve(row, principal.name, svc.clock.now())
            session.add(row)
            await session.commit()
    return see_other(request, "admin.privacy", fragment="requests")


async def _subject(session: AsyncSession, principal: StaffPrincipal, guardian_id: int) -> Guardian:
    """The organization's guardian (404 otherwise, or once erased)."""
    guardian = await owned(session, Guardian, guardian_id, principal.organization_id)
    if guardian.erased_at is not None:
        raise not_found()
    return guardian


async def family_page(request: Request, *, error: str = "", status_code: int = 200) -> Response:
    principal = await require_admin(request)
    guardian_id: int = request.path_params["guardian_id"]
    async with services(request).db.session() as session:
        subject = await _subject(session, principal, guardian_id)
        household = await family.household(session, subject)
    return admin_page(
        request,
        "admin/family.html",
        "parents",  # reached from the parents' list
        status_code=status_code,
        subject=subject,
        household=household,
        error=error,
    )


async def family_home(request: Request) -> Response:
    return await family_page(request)


async def family_export(request: Request) -> Response:
    """The same zip a parent downloads from « Mes données », for the director; recorded."""
    principal, _form = await admin_form(request)
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        subject = await _subject(session, principal, request.path_params["guardian_id"])
        archive = await export.export_family(
            session,
            subject,
            requested_by_kind=ActorKind.STAFF,
            requested_by_id=principal.user_id,
            requested_by_name=principal.name,
            photos_dir=svc.settings.photos_dir,
            now=now,
        )
        await session.commit()
    return attachment(archive, "application/zip", export.file_name(subject, now))


async def family_erase(request: Request) -> Response:
    """Erase the household now: only with the confirmation box ticked."""
    principal, form = await admin_form(request)
    if form.get("confirm") != "erase":
        return await family_page(
            request,
            error=_("Tick the box to confirm: erasing cannot be undone."),
            status_code=400,
        )
    svc = services(request)
    async with svc.db.session() as session:
        subject = await _subject(session, principal, request.path_params["guardian_id"])
        household = await family.household(session, subject)
        try:
            done = await erase.erase_family(session, household, svc.clock.now())
        except erase.LivePickup:
            await session.rollback()
            return await family_page(
                request,
                error=_("A pickup of this family is under way: erase it once the pickup is over."),
                status_code=409,
            )
        await svc.commit_and_publish(session, done.events)
    remove_files(svc.settings.photos_dir, done.stale_files)
    return see_other(
        request, "admin.privacy", query={"erased": done.adults + done.children}, fragment="erased"
    )


routes = [
    Route("/admin/privacy", privacy_home, methods=["GET"], name="admin.privacy"),
    Route("/admin/privacy", save_settings, methods=["POST"], name="admin.privacy_save"),
    Route(
        "/admin/privacy/requests/{request_id:id}/resolve",
        resolve_request,
        methods=["POST"],
        name="admin.rectification_resolve",
    ),
    Route(
        "/admin/privacy/families/{guardian_id:id}",
        family_home,
        methods=["GET"],
        name="admin.family",
    ),
    Route(
        "/admin/privacy/families/{guardian_id:id}/export",
        family_export,
        methods=["POST"],
        name="admin.family_export",
    ),
    Route(
        "/admin/privacy/families/{guardian_id:id}/erase",
        family_erase,
        methods=["POST"],
        name="admin.family_erase",
    ),
]
