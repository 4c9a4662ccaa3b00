"""The register of confidentiality incidents (ss. 3.5–3.8): every incident the organization
records — when, what, whose data, the assessed risk of serious injury, who was notified and
when — and its CSV, which reads back into the same register (`from_csv`)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.i18n import _
from ..core.models import PrivacyIncident

# The CSV's columns: the register's fields, in this order.
CSV_COLUMNS = (
    "occurred_on",
    "discovered_on",
    "description",
    "people_concerned",
    "serious_risk",
    "risk_assessment",
    "notified",
    "notified_on",
    "recorded_by",
)
TEXT_LIMITS = {"description": 4000, "people_concerned": 2000, "risk_assessment": 4000}
TEXT_LIMITS["notified"] = 2000


@dataclass(frozen=True)
class IncidentForm:
    occurred_on: date
    discovered_on: date
    description: str
    people_concerned: str
    serious_risk: bool
    risk_assessment: str
    notified: str
    notified_on: date | None


def _day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


def parse(fields: dict[str, str], today: date) -> IncidentForm | str:
    """The form's fields, checked: the incident, or what to fix (in the visitor's words)."""
    occurred, discovered = (
        _day(fields.get("occurred_on", "")),
        _day(fields.get("discovered_on", "")),
    )
    if occurred is None or discovered is None:
        return _("Give the day the incident happened and the day it was discovered.")
    if occurred > today or discovered > today or discovered < occurred:
        return _("The days must be past, and the discovery on or after the incident.")
    texts = {k: fields.get(k, "").strip() for k in TEXT_LIMITS}
    if not texts["description"] or not texts["people_concerned"]:
        return _("Say what happened and whose information is concerned.")
    if any(len(texts[k]) > limit for k, limit in TEXT_LIMITS.items()):
        return _("A field is too long: summarize it.")
    notified_raw = fields.get("notified_on", "").strip()
    notified_on = _day(notified_raw) if notified_raw else None
    if notified_raw and notified_on is None:
        return _("The notification day is not a valid date.")
    return IncidentForm(
        occurred_on=occurred,
        discovered_on=discovered,
        serious_risk=fields.get("serious_risk") in {"1", "yes", "on", "true"},
        notified_on=notified_on,
        **texts,
    )


def record(
    session: AsyncSession, organization_id: int, form: IncidentForm, by: str, now: datetime
) -> PrivacyIncident:
    incident = PrivacyIncident(
        organization_id=organization_id,
        recorded_by_name=by[:200],
        created_at=now,
        **form.__dict__,
    )
    session.add(incident)
    return incident


async def register(session: AsyncSession, organization_id: int) -> list[PrivacyIncident]:
    query = (
        select(PrivacyIncident)
        .where(col(PrivacyIncident.organization_id) == organization_id)
        .order_by(col(PrivacyIncident.discovered_on).desc(), col(PrivacyIncident.id).desc())
    )
    return list(await session.scalars(query))


def to_csv(incidents: list[PrivacyIncident]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for i in incidents:
        writer.writerow(
            [
                i.occurred_on.isoformat(),
                i.discovered_on.isoformat(),
                i.description,
                i.people_concerned,
                "yes" if i.serious_risk else "no",
                i.risk_assessment,
                i.notified,
                i.notified_on.isoformat() if i.notified_on else "",
                i.recorded_by_name,
            ]
        )
    return out.getvalue()


def from_csv(text: str, today: date) -> list[tuple[IncidentForm, str]]:
    """The register's CSV read back: each incident and who recorded it. Raises ValueError on
    a line that is not an incident."""
    found = []
    for line in csv.DictReader(io.StringIO(text)):
        parsed = parse(dict(line), today)
        if isinstance(parsed, str):
            raise ValueError(parsed)
        found.append((parsed, line.get("recorded_by", "")))
    return found
