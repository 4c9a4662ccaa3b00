"""/admin/emergency: start an emergency closure or evacuation (for one installation or
several), end it with a confirmation, the director's setting that lets reception start one,
and the list of the year's emergencies, real ones and drills apart (each links to its report,
web/admin/emergency_report.py).

A director always; reception too when the director allows it, for its own installation."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ...accounts.authz import StaffPrincipal
from ...core.i18n import _
from ...core.models import ActorKind, Emergency, EmergencyKind, Installation, Organization
from ...emergency import access, families, queries, rules, service
from ...emergency.messages import duration_label, kind_label, refusal_message
from ...emergency.rules import Refusal, RuleError, StartRequest
from ...pickups.writes import Actor
from ...push.notices import EmergencyNotice
from ...roster import queries as roster
from ..context import csrf_form, services
from ..limits import not_found, parse_id
from ..routing import get, page_and_form, post
from ..sessions import require_staff
from .common import admin_page, organization_zone, see_other

FORM_INSTALLATIONS_MAX = 50


@dataclass
class StartForm:
    """The start form as sent (kept on a refusal: nothing typed is lost)."""

    installation_ids: tuple[int, ...] = ()
    kind: str = EmergencyKind.EVACUATION
    # Not a drill unless said: a real alarm must never leave families untold by default.
    drill: bool = False
    message: str = ""
    assembly_point: str = ""


async def require_starter(request: Request, session: AsyncSession) -> StaffPrincipal:
    """A staff member who may start (and end, and follow) an emergency; 403 for others."""
    principal = await require_staff(request)
    if not await access.may_manage(session, principal):
        raise HTTPException(403, refusal_message(Refusal.NOT_ALLOWED))
    return principal


def _actor(request: Request, principal: StaffPrincipal) -> Actor:
    return Actor(
        ActorKind.STAFF, principal.user_id, principal.name, request.headers.get("user-agent", "")
    )


async def _page(
    request: Request,
    session: AsyncSession,
    principal: StaffPrincipal,
    *,
    form: StartForm | None = None,
    error: str | None = None,
) -> Response:
    svc = services(request)
    now = svc.clock.now()
    installations = await roster.visible_installations(session, principal)
    active = await queries.active_emergencies(session, [i.id or 0 for i in installations])
    zone = await organization_zone(session, principal.organization_id)
    # The year so far (the inspector asks for the year's drills), by the organization's clock.
    year_start = now.astimezone(zone).replace(month=1, day=1, hour=0, minute=0, second=0)
    listed = [
        (e, name)
        for e, name in await queries.emergencies(session, principal.organization_id, year_start)
        if principal.is_admin or e.installation_id == principal.installation_id
    ]
    organization = await session.get(Organization, principal.organization_id)
    names = {i.id: i.name for i in installations}
    durations = {e.id: await queries.time_to_all_accounted(session, e) for e, _name in listed}
    return admin_page(
        request,
        "admin/emergency.html",
        "emergency",
        status_code=400 if error else 200,
        installations=installations,
        active=[(e, names.get(e.installation_id, "")) for e in active],
        busy={e.installation_id for e in active},
        drills=[(e, n) for e, n in listed if e.drill],
        real=[(e, n) for e, n in listed if not e.drill],
        # Nothing chosen for a director (two installations: no guess); reception has one.
        form=form
        or StartForm(
            installation_ids=tuple(i.id or 0 for i in installations if len(installations) == 1)
        ),
        error=error,
        tz=zone.key,
        now=now,
        kind_label=kind_label,
        reception_allowed=bool(organization and organization.reception_starts_emergencies),
        year=year_start.year,
        durations=durations,
        duration_label=duration_label,
    )


async def emergency_home(request: Request) -> Response:
    async with services(request).db.session() as session:
        principal = await require_starter(request, session)
        return await _page(request, session, principal)


def _read_form(values: dict[str, list[str]]) -> StartForm:
    ids = tuple(
        i
        for i in (parse_id(v) for v in values.get("installation_id", [])[:FORM_INSTALLATIONS_MAX])
        if i is not None
    )
    kind = (values.get("kind") or [""])[0]
    return StartForm(
        installation_ids=ids,
        kind=kind if kind in {k.value for k in EmergencyKind} else EmergencyKind.EVACUATION,
        drill=(values.get("drill") or [""])[0] == "1",
        message=(values.get("message") or [""])[0].strip()[:2000],
        assembly_point=(values.get("assembly_point") or [""])[0].strip()[:600],
    )


async def start_emergency(request: Request) -> Response:
    """Start it: every board and wall display of each installation switches to the roll at
    once; a real one tells the families (a drill tells nobody)."""
    form_data = await csrf_form(request)
    svc = services(request)
    values = {key: form_data.getlist(key) for key in form_data}
    form = _read_form({k: [str(v) for v in vs] for k, vs in values.items()})
    async with svc.db.session() as session:
        principal = await require_starter(request, session)
        visible = {i.id: i for i in await roster.visible_installations(session, principal)}
        chosen: list[Installation] = []
        for installation_id in form.installation_ids:
            if installation_id not in visible:
                raise not_found()
            chosen.append(visible[installation_id])
        try:
            started, events = await service.start(
                session,
                chosen,
                StartRequest(
                    form.installation_ids,
                    EmergencyKind(form.kind),
                    form.drill,
                    form.message,
                    form.assembly_point,
                ),
                _actor(request, principal),
                svc.clock.now(),
            )
        except RuleError as error:
            await session.rollback()
            return await _page(
                request, session, principal, form=form, error=refusal_message(error.refusal)
            )
        told = rules.tells_families(form.drill)
        written = await families.emails(session, started) if told else []
        phones = [
            EmergencyNotice(
                e.id or 0,
                tuple(g.id or 0 for g in await families.guardians_told(session, [e.id or 0])),
                visible[e.installation_id].display_name or visible[e.installation_id].name,
                e.assembly_point,
            )
            for e in (started if told else [])
        ]
        await svc.commit_and_publish(session, events)
    for notice in phones:
        svc.push.notify_emergency(notice)  # the phones that turned notifications on
    if written:
        # Dozens of families: sent aside, the director's page does not wait for the mail
        # server (each failure is logged; the others still go).
        task = asyncio.create_task(families.send(svc.mailer, written))
        svc.hub.background.add(task)
        task.add_done_callback(svc.hub.background.discard)
    return see_other(request, "admin.emergency")


async def end_emergency(request: Request) -> Response:
    """GET: « End this emergency? » (a confirmation). POST: end it; who did is recorded."""
    svc = services(request)
    emergency_id: int = request.path_params["emergency_id"]
    form = await csrf_form(request) if request.method == "POST" else None
    async with svc.db.session() as session:
        principal = await require_starter(request, session)
        emergency = await _visible_emergency(session, principal, emergency_id)
        installation = await session.get(Installation, emergency.installation_id)
        if form is None:
            return admin_page(
                request,
                "admin/emergency_end.html",
                "emergency",
                emergency=emergency,
                installation=installation,
                kind_label=kind_label,
                tz=(installation.timezone if installation else "America/Toronto"),
            )
        try:
            events = await service.end(
                session, emergency, _actor(request, principal), svc.clock.now()
            )
        except RuleError:
            await session.rollback()  # already ended by someone else: the page shows it
            return see_other(request, "admin.emergency")
        await svc.commit_and_publish(session, events)
    return see_other(request, "admin.emergency_report", emergency_id=emergency_id)


async def _visible_emergency(
    session: AsyncSession, principal: StaffPrincipal, emergency_id: int
) -> Emergency:
    emergency = await access.visible_emergency(session, principal, emergency_id)
    if emergency is None:
        raise not_found()
    return emergency


async def emergency_settings(request: Request) -> Response:
    """The director lets reception start an emergency (or not)."""
    form = await csrf_form(request)
    principal = await require_staff(request)
    if not principal.is_admin:
        raise HTTPException(403, _("This page is for the daycare's administrators."))
    svc = services(request)
    async with svc.db.session() as session:
        organization = await session.get(Organization, principal.organization_id)
        if organization is None:
            raise not_found()
        organization.reception_starts_emergencies = form.get("reception") == "1"
        session.add(organization)
        await session.commit()
    return see_other(request, "admin.emergency", fragment="settings")


routes = [
    get("/admin/emergency", emergency_home, "admin.emergency"),
    post("/admin/emergency", start_emergency, "admin.emergency_start"),
    post("/admin/emergency/settings", emergency_settings, "admin.emergency_settings"),
    page_and_form("/admin/emergency/{emergency_id:id}/end", end_emergency, "admin.emergency_end"),
]
