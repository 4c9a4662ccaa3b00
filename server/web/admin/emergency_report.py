"""/admin/emergency/{id}: an emergency's report — its timeline in order (start, each check,
undo and release with who and when, end), the time until every child was accounted for —
printable (a print stylesheet) and exported as CSV (/admin/emergency/{id}.csv). The director,
or reception for its installation when the director allows it."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ...core.i18n import _
from ...core.models import Emergency, Installation
from ...emergency import access, queries
from ...emergency.messages import duration_label, kind_label, refusal_message, status_label
from ...emergency.rules import Refusal
from ..context import attachment, services
from ..limits import not_found
from ..routing import get
from ..sessions import require_staff
from .common import admin_page

# A spreadsheet runs a cell starting with one of these as a formula: names come from parents
# and integrations (the release log's CSV guards its cells the same way).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


@dataclass(frozen=True)
class Step:
    """One line of the report's timeline."""

    at: datetime
    what: str
    child: str
    by: str
    handed_to: str = ""


@dataclass(frozen=True)
class Report:
    emergency: Emergency
    installation: Installation
    steps: list[Step]
    accounted_after: timedelta | None
    total: int


async def _report(request: Request, session: AsyncSession) -> Report:
    principal = await require_staff(request)
    if not await access.may_manage(session, principal):
        raise HTTPException(403, refusal_message(Refusal.NOT_ALLOWED))
    emergency = await access.visible_emergency(
        session, principal, request.path_params["emergency_id"]
    )
    installation = await session.get(Installation, emergency.installation_id) if emergency else None
    if emergency is None or emergency.id is None or installation is None:
        raise not_found()
    steps = [Step(emergency.started_at, _("Emergency started"), "", emergency.started_by_name)]
    for event, child in await queries.timeline(session, emergency.id):
        undone = event.undo_of is not None
        what = _("Check undone") if undone else status_label(event.to_status)
        steps.append(Step(event.at, what, child, event.actor_name, event.handed_to_name))
    if emergency.ended_at is not None:
        steps.append(Step(emergency.ended_at, _("Emergency ended"), "", emergency.ended_by_name))
    return Report(
        emergency,
        installation,
        steps,
        await queries.time_to_all_accounted(session, emergency),
        len(await queries.roll_children(session, emergency.id)),
    )


async def report_page(request: Request) -> Response:
    async with services(request).db.session() as session:
        report = await _report(request, session)
    return admin_page(
        request,
        "admin/emergency_report.html",
        "emergency",
        report=report,
        tz=report.installation.timezone,
        kind_label=kind_label,
        duration_label=duration_label,
        clock_time=lambda at: at.astimezone(ZoneInfo(report.installation.timezone)).strftime(
            "%H:%M:%S"
        ),
    )


async def report_csv(request: Request) -> Response:
    async with services(request).db.session() as session:
        report = await _report(request, session)
    tz = report.installation.timezone
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("When"), _("What"), _("Child"), _("By"), _("Handed to")])
    for step in report.steps:
        writer.writerow(
            [
                step.at.astimezone(ZoneInfo(tz)).isoformat(timespec="seconds"),
                _cell(step.what),
                _cell(step.child),
                _cell(step.by),
                _cell(step.handed_to),
            ]
        )
    writer.writerow([])
    writer.writerow([_("All accounted for after"), duration_label(report.accounted_after)])
    body = "\ufeff" + out.getvalue()  # the BOM: Excel reads UTF-8 (accents intact)
    day = report.emergency.started_at.astimezone(ZoneInfo(tz)).date().isoformat()
    filename = f"relais-emergency-{report.emergency.id}-{day}.csv"
    return attachment(body.encode("utf-8"), "text/csv; charset=utf-8", filename)


routes = [
    get("/admin/emergency/{emergency_id:id}", report_page, "admin.emergency_report"),
    get("/admin/emergency/{emergency_id:id}.csv", report_csv, "admin.emergency_csv"),
]
