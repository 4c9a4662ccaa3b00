"""Who may start, end and follow an emergency: a director, every installation of the
organization; reception, for its own installation, when the director allows it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ..accounts.authz import StaffPrincipal
from ..core.models import Emergency, Organization
from . import queries, rules


async def may_manage(session: AsyncSession, principal: StaffPrincipal) -> bool:
    organization = await session.get(Organization, principal.organization_id)
    reception = bool(organization and organization.reception_starts_emergencies)
    return rules.may_start(principal.role, reception)


async def visible_emergency(
    session: AsyncSession, principal: StaffPrincipal, emergency_id: int
) -> Emergency | None:
    """The emergency if this staff member may see it (None reads as unknown: a 404)."""
    emergency = await queries.emergency_in(session, principal.organization_id, emergency_id)
    if emergency is None or not (
        principal.is_admin or emergency.installation_id == principal.installation_id
    ):
        return None
    return emergency
