"""« Mes données » (s. 27): everything Relais holds about a family, as a zip of JSON and CSV
files in documented formats (docs/privacy.md, "Export format"), with the photos. Each export
is recorded: who asked, when, whose."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import (
    ActorKind,
    Child,
    Consent,
    DataExport,
    Guardian,
    Pickup,
    PickupEvent,
    RectificationRequest,
)
from ..photos.service import photo_path
from .family import Family, export_scope

FORMAT_VERSION = 1
Row = dict[str, Any]

README = """Relais — data export (format {version})

data.json holds every section below; each section is also a CSV file (UTF-8, one header
line, the same columns as the JSON objects). Instants are ISO 8601 in UTC, days YYYY-MM-DD.
photos/ holds the photos on file (guardian-<id>.jpg, child-<id>.jpg; "-pending" when
waiting for the daycare's approval).

Sections: {sections}.
The format of each column is documented in docs/privacy.md ("Export format") of Relais.
"""


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _adult(g: Guardian) -> Row:
    return {
        "id": g.id,
        "kind": g.kind,
        "first_name": g.first_name,
        "last_name": g.last_name,
        "email": g.email,
        "account_state": g.account_state,
        "has_photo": g.photo is not None,
        "photo_pending": g.pending_photo is not None,
    }


def _child(c: Child) -> Row:
    return {
        "id": c.id,
        "first_name": c.first_name,
        "last_name": c.last_name,
        "active": c.active,
        "pickup_enabled": c.pickup_enabled,
        "agreement_active": c.agreement_active,
        "has_photo": c.photo is not None,
        "photo_pending": c.pending_photo is not None,
    }


async def _pickups(session: AsyncSession, family: Family) -> list[Pickup]:
    mine = col(Pickup.guardian_id) == family.subject.id
    theirs = col(Pickup.child_id).in_(family.child_ids)
    query = select(Pickup).where(or_(mine, theirs) if family.child_ids else mine)
    return list(await session.scalars(query.order_by(col(Pickup.id))))


async def sections(session: AsyncSession, family: Family) -> dict[str, list[Row]]:
    """The export's sections, in order. Other adults of the release log (another parent) are
    named only when they belong to the family; staff are named, as on the release log."""
    subject_id = family.subject.id
    assert subject_id is not None
    named = {g.id: g.full_name for g in family.adults}
    pickups = await _pickups(session, family)
    pickup_ids = [p.id for p in pickups if p.id is not None]
    events = list(
        await session.scalars(
            select(PickupEvent)
            .where(col(PickupEvent.pickup_id).in_(pickup_ids))
            .order_by(col(PickupEvent.at), col(PickupEvent.id))
        )
    )
    adult_ids = family.guardian_ids or [subject_id]
    consents = await session.scalars(
        select(Consent).where(col(Consent.guardian_id).in_(adult_ids)).order_by(col(Consent.id))
    )
    exports = await session.scalars(
        select(DataExport)
        .where(col(DataExport.guardian_id) == subject_id)
        .order_by(col(DataExport.id))
    )
    requests = await session.scalars(
        select(RectificationRequest)
        .where(col(RectificationRequest.guardian_id) == subject_id)
        .order_by(col(RectificationRequest.id))
    )

    def actor(event: PickupEvent) -> str:
        if event.actor_kind != ActorKind.GUARDIAN:
            return event.actor_name
        return named.get(event.actor_id, "")  # another parent: not theirs to see

    return {
        "profile": [_adult(family.subject)],
        "children": [_child(c) for c in family.children],
        "authorized_adults": [_adult(g) for g in family.authorized],
        "consents": [
            {
                "guardian_id": c.guardian_id,
                "purpose": c.purpose,
                "text_version": c.text_version,
                "given_at": c.given_at,
                "withdrawn_at": c.withdrawn_at,
            }
            for c in consents
        ],
        "pickups": [
            {
                "id": p.id,
                "child_id": p.child_id,
                "announced_by": named.get(p.guardian_id, ""),
                "day": p.day,
                "mode": p.mode,
                "status": p.status,
                "eta": p.eta,
                "created_at": p.created_at,
                "announced_at": p.announced_at,
            }
            for p in pickups
        ],
        "release_log": [
            {
                "pickup_id": e.pickup_id,
                "at": e.at,
                "from_status": e.from_status,
                "to_status": e.to_status,
                "actor_kind": e.actor_kind,
                "actor_name": actor(e),
                "device": e.device if e.actor_id == subject_id else "",
            }
            for e in events
        ],
        "exports": [
            {
                "at": x.at,
                "requested_by_kind": x.requested_by_kind,
                "requested_by": x.requested_by_name,
            }
            for x in exports
        ],
        "rectification_requests": [
            {
                "child_id": r.child_id,
                "field": r.field,
                "current_value": r.current_value,
                "requested_value": r.requested_value,
                "created_at": r.created_at,
                "resolved_at": r.resolved_at,
            }
            for r in requests
        ],
    }


def _csv(rows: Sequence[Row], columns: Iterable[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _value(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def _photos(family: Family, photos_dir: Path) -> Iterable[tuple[str, Path]]:
    targets: list[tuple[str, Child | Guardian]] = [("guardian", family.subject)]
    targets += [("guardian", g) for g in family.authorized]
    targets += [("child", c) for c in family.children]
    for kind, row in targets:
        for suffix, name in (("", row.photo), ("-pending", row.pending_photo)):
            if name:
                try:
                    path = photo_path(photos_dir, name)
                except ValueError:
                    continue
                if path.is_file():
                    yield f"photos/{kind}-{row.id}{suffix}.jpg", path


# Each section's columns, also when it is empty (a CSV keeps its header).
ADULT_COLUMNS = "id kind first_name last_name email account_state has_photo photo_pending"
COLUMNS = {
    "children": "id first_name last_name active pickup_enabled agreement_active has_photo "
    "photo_pending",
    "authorized_adults": ADULT_COLUMNS,
    "consents": "guardian_id purpose text_version given_at withdrawn_at",
    "pickups": "id child_id announced_by day mode status eta created_at announced_at",
    "release_log": "pickup_id at from_status to_status actor_kind actor_name device",
    "exports": "at requested_by_kind requested_by",
    "rectification_requests": "child_id field current_value requested_value created_at resolved_at",
}


def build_zip(data: dict[str, list[Row]], family: Family, photos_dir: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        names = ", ".join(data)
        archive.writestr("README.txt", README.format(version=FORMAT_VERSION, sections=names))
        document = {"format": FORMAT_VERSION, **data}
        archive.writestr(
            "data.json", json.dumps(document, default=_value, ensure_ascii=False, indent=2)
        )
        for name, rows in data.items():
            columns = rows[0].keys() if rows else COLUMNS[name].split()
            archive.writestr(f"{name}.csv", _csv(rows, columns))
        for arcname, path in _photos(family, photos_dir):
            archive.write(path, arcname)
    return buffer.getvalue()


async def export_family(
    session: AsyncSession,
    subject: Guardian,
    *,
    requested_by_kind: ActorKind,
    requested_by_id: int,
    requested_by_name: str,
    photos_dir: Path,
    now: datetime,
) -> bytes:
    """The zip of `subject`'s family, and its line in the export record (the caller
    commits)."""
    assert subject.id is not None
    family = await export_scope(session, subject)
    data = await sections(session, family)
    session.add(
        DataExport(
            organization_id=subject.organization_id,
            guardian_id=subject.id,
            subject_name=subject.full_name,
            requested_by_kind=requested_by_kind,
            requested_by_id=requested_by_id,
            requested_by_name=requested_by_name,
            at=now,
        )
    )
    return build_zip(data, family, photos_dir)


def file_name(subject: Guardian, now: datetime) -> str:
    return f"relais-donnees-{subject.id}-{now.date().isoformat()}.zip"


async def recent_exports(
    session: AsyncSession, organization_id: int, limit: int
) -> list[DataExport]:
    """The organization's latest exports (who, when, whose), newest first."""
    return list(
        await session.scalars(
            select(DataExport)
            .where(col(DataExport.organization_id) == organization_id)
            .order_by(col(DataExport.id).desc())
            .limit(limit)
        )
    )
