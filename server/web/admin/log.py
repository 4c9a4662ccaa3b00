"""/admin/log: the release log. One row per pickup: which child, which guardian, and when and
by whom each step was taken (from the append-only `PickupEvent` rows). Filters by date range
(installation-local days), installation, group and child; /admin/log.csv exports the same."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from ...accounts.authz import StaffPrincipal
from ...core.i18n import _
from ...core.models import (
    ActorKind,
    Child,
    Group,
    Guardian,
    Installation,
    Pickup,
    PickupEvent,
    PickupStatus,
)
from ...pickups import queries as pickups
from ...pickups.messages import dismiss_reason_label, status_label
from ...roster import queries as roster
from ..context import attachment, services
from ..routing import get
from ..sessions import require_admin
from .common import admin_page, organization_zone

PAGE_SIZE = 50
STEPS = ("announced", "called", "ready", "departed")
MAX_RANGE_DAYS = 366


@dataclass
class LogFilter:
    start: date
    end: date
    installation_id: int | None = None
    group_id: int | None = None
    child: str = ""
    page: int = 1


@dataclass
class Step:
    at: datetime
    by: str
    reason: str = ""  # a dismissal's, in words


@dataclass
class LogRow:
    pickup: Pickup
    child: Child
    group: Group
    installation: Installation
    guardian: Guardian
    steps: dict[str, Step] = field(default_factory=dict)
    ended: Step | None = None  # cancelled, expired or dismissed
    handed_to: str = ""  # who the departing child was handed to (the Départ confirmation)
    undone: int = 0  # steps taken back with « Annuler »

    @property
    def picked_up_by(self) -> str:
        return self.handed_to or self.guardian.full_name

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.installation.timezone)

    def local(self, status: str) -> str:
        step = self.steps.get(status)
        return step.at.astimezone(self.tz).strftime("%H:%M") if step else ""

    def iso(self, status: str) -> str:
        step = self.steps.get(status)
        return step.at.astimezone(self.tz).isoformat() if step else ""

    def by(self, status: str) -> str:
        step = self.steps.get(status)
        return step.by if step else ""


def _actor_label(event: PickupEvent) -> str:
    if event.actor_name:
        return event.actor_name
    labels = {
        ActorKind.SYSTEM.value: _("Relais (automatic)"),
        ActorKind.API.value: _("API"),
        ActorKind.DISPLAY.value: _("Wall display"),
        ActorKind.GUARDIAN.value: _("Guardian"),
        ActorKind.STAFF.value: _("Staff"),
    }
    return labels.get(event.actor_kind, event.actor_kind)


def status_labels() -> dict[str, str]:
    """The staff's and parents' one word per status (pickups.messages), in the log too."""
    return {status.value: status_label(status.value) for status in PickupStatus}


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(…) sends
# the file's data away, =cmd|… runs programs): names come from parents and integrations.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """A cell as a spreadsheet shows it, never as a formula: text that would start one gets a
    leading apostrophe (OWASP's advice; the apostrophe is not displayed)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def mode_labels() -> dict[str, str]:
    return {"eta": _("Arrival time"), "gps": _("GPS")}


async def _parse_filter(
    request: Request,
    session: AsyncSession,
    principal: StaffPrincipal,
    installations: list[Installation],
    groups: list[Group],
) -> tuple[LogFilter, dict[str, str], dict[str, str]]:
    """The filter the query asks for, each bad value refused with a message next to its field
    (and replaced by the default)."""
    params = request.query_params
    values = {
        key: params.get(key, "").strip()[:100]
        for key in ("from", "to", "installation_id", "group_id", "child", "page")
    }
    errors: dict[str, str] = {}
    by_id = {i.id: i for i in installations}
    installation: Installation | None = None
    if values["installation_id"]:
        try:
            installation = by_id.get(int(values["installation_id"]))
        except ValueError:
            installation = None
        if installation is None:
            errors["installation_id"] = _("Choose one of your installations.")
    group: Group | None = None
    if values["group_id"]:
        try:
            group = next((g for g in groups if g.id == int(values["group_id"])), None)
        except ValueError:
            group = None
        if group is None:
            errors["group_id"] = _("Choose one of your groups.")
        elif installation is not None and group.installation_id != installation.id:
            errors["group_id"] = _("That group is not in that installation.")
            group = None
    if installation is not None:
        zone = ZoneInfo(installation.timezone)
    elif group is not None:
        zone = ZoneInfo(by_id[group.installation_id].timezone)
    else:
        zone = await organization_zone(session, principal.organization_id)
    today = services(request).clock.now().astimezone(zone).date()
    dates: dict[str, date] = {}
    for key in ("from", "to"):
        if not values[key]:
            dates[key] = today
            continue
        try:
            dates[key] = date.fromisoformat(values[key])
        except ValueError:
            errors[key] = _("Enter a date like 2026-11-24.")
            dates[key] = today
    if "from" not in errors and "to" not in errors:
        if dates["from"] > dates["to"]:
            errors["to"] = _("The end date comes before the start date.")
            dates["to"] = dates["from"]
        elif (dates["to"] - dates["from"]).days > MAX_RANGE_DAYS:
            errors["to"] = _("Choose at most one year at a time.")
            dates["to"] = dates["from"]
    try:
        page_number = max(1, int(values["page"] or "1"))
    except ValueError:
        page_number = 1
    if not values["from"] and not values["to"]:
        values["from"] = values["to"] = today.isoformat()
    chosen = LogFilter(
        start=dates["from"],
        end=dates["to"],
        installation_id=installation.id if installation else None,
        group_id=group.id if group else None,
        child=values["child"],
        page=page_number,
    )
    return chosen, errors, values


async def _rows(
    session: AsyncSession, organization_id: int, chosen: LogFilter, *, paginate: bool
) -> tuple[int, list[LogRow]]:
    """How many pickups the filter finds, and the rows to show (this page's, or all)."""
    total, lines = await pickups.release_log(
        session,
        organization_id,
        start=chosen.start,
        end=chosen.end,
        installation_id=chosen.installation_id,
        group_id=chosen.group_id,
        child=chosen.child,
        limit=PAGE_SIZE if paginate else None,
        offset=(chosen.page - 1) * PAGE_SIZE,
    )
    rows = [LogRow(*line) for line in lines]
    by_pickup = {row.pickup.id: row for row in rows}
    for event in await pickups.pickup_events(session, [i for i in by_pickup if i is not None]):
        row = by_pickup[event.pickup_id]
        if event.undo_of is not None:
            # « Annuler »: the step it took back no longer stands (its line stays in the log).
            row.undone += 1
            undone = str(event.from_status)
            row.steps.pop(undone, None)
            if undone == "departed":
                row.handed_to = ""
            if row.ended is not None and undone in ENDINGS:
                row.ended = None
            continue
        reason = dismiss_reason_label(event.reason) if event.reason else ""
        step = Step(event.at, _actor_label(event), reason)
        if event.to_status in STEPS:
            row.steps.setdefault(event.to_status, step)
            if event.to_status == "departed" and event.handed_to_name:
                row.handed_to = event.handed_to_name
        elif event.to_status in ENDINGS:
            row.ended = step
    return total, rows


ENDINGS = ("cancelled", "expired", "dismissed")


async def _load(
    request: Request, *, paginate: bool
) -> tuple[dict[str, Any], list[LogRow], int, LogFilter]:
    principal = await require_admin(request)
    async with services(request).db.session() as session:
        installations, groups = await roster.places(session, principal.organization_id)
        chosen, errors, values = await _parse_filter(
            request, session, principal, installations, groups
        )
        total, rows = await _rows(session, principal.organization_id, chosen, paginate=paginate)
    context = {
        "installations": installations,
        "groups": groups,
        "installation_names": {i.id: i.name for i in installations},
        "errors": errors,
        "values": values,
    }
    return context, rows, total, chosen


def _filter_query(values: dict[str, str], **override: Any) -> str:
    params = {k: v for k, v in values.items() if v and k != "page"}
    params.update({k: str(v) for k, v in override.items()})
    return urlencode(params)


async def log_page(request: Request) -> Response:
    context, rows, total, chosen = await _load(request, paginate=True)
    pages = max(1, -(-total // PAGE_SIZE))
    values = context["values"]
    return admin_page(
        request,
        "admin/log.html",
        "log",
        status_code=400 if context["errors"] else 200,
        rows=rows,
        total=total,
        page_number=min(chosen.page, pages),
        pages=pages,
        prev_query=_filter_query(values, page=chosen.page - 1) if chosen.page > 1 else None,
        next_query=_filter_query(values, page=chosen.page + 1) if chosen.page < pages else None,
        csv_query=_filter_query(values),
        statuses=status_labels(),
        modes=mode_labels(),
        **context,
    )


async def log_csv(request: Request) -> Response:
    context, rows, _total, chosen = await _load(request, paginate=False)
    if context["errors"]:
        return Response(
            "\n".join(context["errors"].values()),
            status_code=400,
            media_type="text/plain; charset=utf-8",
        )
    statuses, modes = status_labels(), mode_labels()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            _("Pickup"),
            _("Day"),
            _("Installation"),
            _("Group"),
            _("Child"),
            _("Guardian"),
            _("Mode"),
            _("Status"),
            _("Announced at"),
            _("Called at"),
            _("Called by"),
            _("Ready at"),
            _("Ready by"),
            _("Departed at"),
            _("Departed by"),
            _("Ended at"),
            _("Ended by"),
            _("Handed to"),
            _("Reason removed"),
            _("Steps undone"),
        ]
    )
    for row in rows:
        writer.writerow(
            csv_cell(cell)
            for cell in [
                row.pickup.id,
                row.pickup.day.isoformat(),
                row.installation.name,
                row.group.name,
                row.child.full_name,
                row.guardian.full_name,
                modes.get(row.pickup.mode, row.pickup.mode),
                statuses.get(row.pickup.status, row.pickup.status),
                row.iso("announced"),
                row.iso("called"),
                row.by("called"),
                row.iso("ready"),
                row.by("ready"),
                row.iso("departed"),
                row.by("departed"),
                row.ended.at.astimezone(row.tz).isoformat() if row.ended else "",
                row.ended.by if row.ended else "",
                row.handed_to,
                row.ended.reason if row.ended else "",
                row.undone,
            ]
        )
    # The BOM makes Excel read the file as UTF-8 (accents intact).
    body = "\ufeff" + out.getvalue()
    filename = f"relais-log-{chosen.start.isoformat()}-{chosen.end.isoformat()}.csv"
    return attachment(body.encode("utf-8"), "text/csv; charset=utf-8", filename)


routes = [
    get("/admin/log", log_page, "admin.log"),
    get("/admin/log.csv", log_csv, "admin.log_csv"),
]
