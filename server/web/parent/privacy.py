"""« Mes données » (/parent/donnees): a parent downloads everything Relais holds about them
and their children, asks for a correction of a synced field, and gives or withdraws consent
to share their position during a trip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...accounts import queries as accounts
from ...accounts.authz import GuardianPrincipal
from ...core.i18n import _, format_datetime
from ...core.mail import delivered
from ...core.models import (
    ActorKind,
    Child,
    Guardian,
    Organization,
)
from ...pickups import trips
from ...pickups.family import family_children
from ...privacy import consent, export, rectification
from ..context import attachment, csrf_form, is_htmx, page, public_base_url, services
from ..sessions import require_guardian


def _local_time(zone: ZoneInfo) -> Callable[[datetime | None], str]:
    def local(moment: datetime | None) -> str:
        return format_datetime(moment, zone.key)

    return local


async def _guardian(session: AsyncSession, principal: GuardianPrincipal) -> Guardian:
    guardian = await session.get(Guardian, principal.guardian_id)
    assert guardian is not None  # the session loader checked the account
    return guardian


async def data_page(request: Request, *, error: str = "", sent: str = "") -> Response:
    principal = await require_guardian(request)
    async with services(request).db.session() as session:
        guardian = await _guardian(session, principal)
        children = await family_children(session, principal.guardian_id)
        given = await consent.current(session, principal.guardian_id)
        organization = await session.get(Organization, principal.organization_id)
        local = _local_time(ZoneInfo(organization.timezone if organization else "UTC"))
        requests = await rectification.requests_of(session, principal.guardian_id)
    names = {c.id: c.full_name for c in children}
    return page(
        request,
        "parent/data.html",
        status_code=400 if error else 200,
        guardian=guardian,
        children=children if principal.manages_family else [],
        location_consent=given,
        consent_given_at=local(given.given_at) if given else "",
        requests=requests,
        child_names=names,
        field_label=rectification.field_label,
        local=local,
        error=error,
        sent=sent,
    )


async def data_home(request: Request) -> Response:
    sent = _("Your request was sent to the daycare.") if request.query_params.get("sent") else ""
    return await data_page(request, sent=sent)


async def download(request: Request) -> Response:
    """The zip of the family's data; the export is recorded."""
    principal = await require_guardian(request)
    await csrf_form(request)
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        guardian = await _guardian(session, principal)
        archive = await export.export_family(
            session,
            guardian,
            requested_by_kind=ActorKind.GUARDIAN,
            requested_by_id=principal.guardian_id,
            requested_by_name=principal.name,
            photos_dir=svc.settings.photos_dir,
            now=now,
        )
        await session.commit()
    return attachment(archive, "application/zip", export.file_name(guardian, now))


async def _tell_directors(request: Request, organization_id: int) -> None:
    """An email to each active director: a request waits (no personal data in the email)."""
    svc = services(request)
    async with svc.db.session() as session:
        directors = await accounts.director_emails(session, organization_id)
    link = public_base_url(request).rstrip("/") + request.app.url_path_for("admin.privacy")
    body = _(
        "A parent asked the daycare to correct their information.\n\n"
        "See the request and mark it answered once corrected in your management system:\n{link}\n"
    ).format(link=link)
    for email in directors:
        await delivered(svc.mailer, email, _("Relais: a request for correction"), body)


async def rectify(request: Request) -> Response:
    """Ask for a correction: "me:<field>" or "child-<id>:<field>", and the right value."""
    principal = await require_guardian(request)
    form = await csrf_form(request)
    target_key, _sep, field = str(form.get("target", "")).partition(":")
    value = str(form.get("value", ""))[: rectification.MAX_VALUE + 1]
    svc = services(request)
    async with svc.db.session() as session:
        guardian = await _guardian(session, principal)
        target: Guardian | Child | None = guardian if target_key == "me" else None
        if target_key.startswith("child-") and principal.manages_family:
            mine = {str(c.id): c for c in await family_children(session, principal.guardian_id)}
            target = mine.get(target_key.removeprefix("child-"))
        if target is None:
            return await data_page(request, error=_("Choose the information to correct."))
        outcome = rectification.ask(session, guardian, target, field, value, svc.clock.now())
        if isinstance(outcome, str):
            return await data_page(request, error=outcome)
        await session.commit()
    await _tell_directors(request, principal.organization_id)
    url = request.app.url_path_for("parent.data")
    return RedirectResponse(f"{url}?sent=1#requests", status_code=303)


async def give_consent(request: Request) -> Response:
    """The parent read the consent text and agreed: recorded once, with the text's version."""
    principal = await require_guardian(request)
    await csrf_form(request)
    svc = services(request)
    async with svc.db.session() as session:
        await consent.give(
            session,
            organization_id=principal.organization_id,
            guardian_id=principal.guardian_id,
            now=svc.clock.now(),
        )
        await session.commit()
    if is_htmx(request) or request.headers.get("x-csrf-token"):
        return Response(status_code=204)  # the page's script goes on to share
    return RedirectResponse(request.app.url_path_for("parent.data"), status_code=303)


async def withdraw_consent(request: Request) -> Response:
    """Withdraw the consent: positions of a trip under way are erased now."""
    principal = await require_guardian(request)
    await csrf_form(request)
    svc = services(request)
    now = svc.clock.now()
    async with svc.db.session() as session:
        await consent.withdraw(session, principal.guardian_id, now)
        for pickup in await trips.live_trips(session, principal.guardian_id, now):
            await trips.forget_positions(session, pickup.id)
        await session.commit()
    return RedirectResponse(request.app.url_path_for("parent.data"), status_code=303)


routes: list[BaseRoute] = [
    Route("/parent/donnees", data_home, methods=["GET"], name="parent.data"),
    Route("/parent/donnees/export", download, methods=["POST"], name="parent.data_export"),
    Route("/parent/donnees/correction", rectify, methods=["POST"], name="parent.rectify"),
    Route("/parent/consent/location", give_consent, methods=["POST"], name="parent.consent_give"),
    Route(
        "/parent/consent/location/withdraw",
        withdraw_consent,
        methods=["POST"],
        name="parent.consent_withdraw",
    ),
]
