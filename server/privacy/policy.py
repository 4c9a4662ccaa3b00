"""An organization's privacy settings: the person in charge of the protection of personal
information (s. 3.1) and how long each kind of data is kept (s. 23), with lawful defaults."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.i18n import _
from ..core.models import Organization, PrivacySettings


@dataclass(frozen=True)
class RetentionKind:
    """One kind of data with its own period: the settings' column `<key>_days`."""

    key: str
    minimum: int
    maximum: int = 3650

    @property
    def column(self) -> str:
        return f"{self.key}_days"

    def label(self) -> str:
        return {
            "release_log": _("Pickups, release log and attendance (after the day)"),
            "consents": _("Withdrawn consents (after the withdrawal)"),
            "exports": _("Record of data exports (after the export)"),
            "messages": _("Emails kept in the outbox and one-time links (after they were sent)"),
            "sessions": _("Sign-in sessions (after they expired)"),
            "departed": _("Families that left: anonymized (after they left the roster)"),
            "requests": _("Answered rectification requests (after the answer)"),
        }[self.key]


# The release log is evidence of who picked up whom: at least a month, a year by default.
KINDS = (
    RetentionKind("release_log", minimum=30),
    RetentionKind("consents", minimum=0),
    RetentionKind("exports", minimum=30),
    RetentionKind("messages", minimum=0),
    RetentionKind("sessions", minimum=0),
    RetentionKind("departed", minimum=0),
    RetentionKind("requests", minimum=30),
)
# The regulation on confidentiality incidents keeps the register five years (s. 7); not a
# setting.
INCIDENT_YEARS = 5


async def settings_of(session: AsyncSession, organization_id: int) -> PrivacySettings:
    """The organization's settings; the defaults (a new, unsaved row) when never saved."""
    found = await session.get(PrivacySettings, organization_id)
    return found or PrivacySettings(organization_id=organization_id)


def days(settings: PrivacySettings, kind: RetentionKind) -> int:
    value: int = getattr(settings, kind.column)
    return value


def parse_days(raw: str, kind: RetentionKind) -> int | None:
    """A period typed in the form, or None when it is not a whole number within bounds."""
    try:
        value = int(raw.strip())
    except ValueError:
        return None
    return value if kind.minimum <= value <= kind.maximum else None


async def notices(
    session: AsyncSession, organization_id: int | None = None
) -> list[tuple[Organization, PrivacySettings]]:
    """What the public privacy notice names: each organization (only `organization_id`'s
    when the visitor is signed in) with its person in charge and periods."""
    query = select(Organization).order_by(col(Organization.name))
    if organization_id is not None:
        query = query.where(col(Organization.id) == organization_id)
    return [
        (org, await settings_of(session, org.id))
        for org in await session.scalars(query)
        if org.id is not None
    ]
