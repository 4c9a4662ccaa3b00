"""/admin/reports: how long each step of a pickup takes, per group and per installation.

Over a date range (installation days, default the last 30), the medians of alert → Appeler,
Appeler → Prêt and Prêt → Départ from the release log, an inline SVG chart drawn on the
server, and a suggestion when the measured preparation time (alert → Prêt) is far from the
configured one. The computations are in `pickups/reports.py`, the reads in
`pickups/queries.py`; this module checks the form and renders.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...core import i18n
from ...core.i18n import _
from ...core.models import Group, Installation
from ...pickups import queries as pickups
from ...pickups import reports
from ...pickups.messages import step_label
from ...pickups.rules import local_day
from ...roster import queries as roster
from ..context import services
from ..routing import get
from ..sessions import require_admin
from .common import DEFAULT_ZONE, admin_page

DEFAULT_DAYS = 30
MAX_DAYS = 366


def format_minutes(value: float | None) -> str:
    """Minutes in the reader's language: "7.5" / "7,5", "—" when not measured."""
    if value is None:
        return "—"
    return str(format_decimal(round(value, 1), format="#,##0.#", locale=i18n.current_locale()))


@dataclass(frozen=True)
class ReportRow:
    label: str
    medians: reports.StepMedians
    is_total: bool = False


@dataclass(frozen=True)
class InstallationReport:
    installation: Installation
    rows: tuple[ReportRow, ...]  # one per group, then the installation's total
    chart: reports.Chart | None  # None when no group has a measured step
    suggestions: tuple[str, ...]


@dataclass(frozen=True)
class RangeForm:
    raw_from: str
    raw_to: str
    raw_installation: str
    start: date | None
    end: date | None
    installation_id: int | None
    errors: dict[str, str]


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


def read_form(request: Request, installations: list[Installation], today: date) -> RangeForm:
    """Read and check the range; every problem is a message for its own field."""
    params = request.query_params
    raw_from = params.get("from", "").strip()
    raw_to = params.get("to", "").strip()
    raw_installation = params.get("installation", "all").strip() or "all"
    errors: dict[str, str] = {}
    end = _parse_date(raw_to) if raw_to else today
    if end is None:
        errors["to"] = _("Enter a date as YYYY-MM-DD, for example {example}.").format(
            example=today.isoformat()
        )
    start = _parse_date(raw_from) if raw_from else (end or today) - timedelta(DEFAULT_DAYS - 1)
    if start is None:
        errors["from"] = _("Enter a date as YYYY-MM-DD, for example {example}.").format(
            example=today.isoformat()
        )
    if start is not None and end is not None:
        if start > end:
            errors["from"] = _("The start date must be on or before the end date.")
        elif (end - start).days + 1 > MAX_DAYS:
            errors["to"] = i18n.ngettext(
                "A report covers at most %(num)d day.",
                "A report covers at most %(num)d days.",
                MAX_DAYS,
            ) % {"num": MAX_DAYS}
    installation_id: int | None = None
    if raw_installation != "all":
        match = next((i for i in installations if str(i.id) == raw_installation), None)
        if match is None:
            errors["installation"] = _("Choose one of the installations in the list.")
        else:
            installation_id = match.id
    return RangeForm(
        raw_from=raw_from or (start.isoformat() if start else ""),
        raw_to=raw_to or (end.isoformat() if end else ""),
        raw_installation=raw_installation,
        start=start,
        end=end,
        installation_id=installation_id,
        errors=errors,
    )


def suggestion_text(label: str, medians: reports.StepMedians, configured: int) -> str | None:
    suggested = reports.suggested_preparation(medians, configured)
    if suggested is None:
        return None
    return _(
        "{group}: preparation takes a median of {measured} min, the configured time is "
        "{configured} min. Consider {suggested} min."
    ).format(
        group=label,
        measured=format_minutes(medians.alert_to_ready),
        configured=configured,
        suggested=suggested,
    )


def build_reports(
    installations: list[Installation],
    groups: list[Group],
    events: list[tuple[int, reports.EventRow]],
) -> list[InstallationReport]:
    """`events`: (group id of the child, event row) pairs, already limited to the range."""
    by_group: dict[int, list[reports.EventRow]] = defaultdict(list)
    for group_id, event in events:
        by_group[group_id].append(event)
    result: list[InstallationReport] = []
    for installation in installations:
        rows: list[ReportRow] = []
        suggestions: list[str] = []
        all_steps: list[reports.PickupSteps] = []
        for group in (g for g in groups if g.installation_id == installation.id):
            assert group.id is not None
            steps = list(reports.pickup_steps(by_group.get(group.id, [])).values())
            all_steps += steps
            medians = reports.summarize(steps)
            rows.append(ReportRow(group.name, medians))
            text = suggestion_text(group.name, medians, installation.preparation_minutes)
            if text:
                suggestions.append(text)
        rows.append(ReportRow(_("All groups"), reports.summarize(all_steps), is_total=True))
        charted = [(r.label, r.medians) for r in rows if not r.is_total and r.medians.pickups]
        result.append(
            InstallationReport(
                installation=installation,
                rows=tuple(rows),
                chart=reports.bar_chart(charted) if charted else None,
                suggestions=tuple(suggestions),
            )
        )
    return result


async def reports_page(request: Request) -> Response:
    principal = await require_admin(request)
    svc = services(request)
    async with svc.db.session() as session:
        installations = await roster.installations(session, principal.organization_id)
        # Days are the installations' own dates; they share one zone in practice.
        tz = installations[0].timezone if installations else DEFAULT_ZONE
        form = read_form(request, installations, local_day(svc.clock.now(), tz))
        chosen = (
            [i for i in installations if form.installation_id in (None, i.id)]
            if not form.errors
            else []
        )
        results: list[InstallationReport] = []
        if chosen and form.start is not None and form.end is not None:
            chosen_ids = [i.id for i in chosen if i.id is not None]
            groups = await roster.groups(session, chosen_ids)
            events = await pickups.step_events(
                session, principal.organization_id, chosen_ids, form.start, form.end
            )
            results = build_reports(chosen, groups, events)
    return admin_page(
        request,
        "admin/reports.html",
        "reports",
        status_code=400 if form.errors else 200,
        form=form,
        installations=installations,
        results=results,
        format_minutes=format_minutes,
        step_names=(
            "{alert} → {call}".format(alert=_("Alert"), call=step_label("called")),
            f"{step_label('called')} → {step_label('ready')}",
            f"{step_label('ready')} → {step_label('departed')}",
        ),
    )


routes: list[BaseRoute] = [get("/admin/reports", reports_page, "admin.reports")]
