"""Authorized people: a parent lets another adult (a grandparent, a neighbour) announce an
arrival and pick up their children, and takes it back. The person gets an account of kind
"authorized", linked to the family's children; the account closes with its last link."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import ChildGuardian, Guardian
from . import queries


class AlreadyAGuardian(Exception):
    """The address is a guardian's the daycare knows: not someone a parent authorizes."""


async def authorize(
    session: AsyncSession,
    *,
    organization_id: int,
    invited_by_id: int,
    first_name: str,
    last_name: str,
    email: str,
    child_ids: Iterable[int],
) -> Guardian:
    """The person with this address (created, or the same authorized person again, reopened)
    linked to these children, in the caller's transaction. Raises `AlreadyAGuardian`."""
    existing = await queries.guardian_by_email(session, organization_id, email)
    if existing is not None and existing.kind != "authorized":
        raise AlreadyAGuardian()
    person = existing or Guardian(
        organization_id=organization_id,
        external_id=f"AUTH-{invited_by_id}-{email}"[:100],
        first_name=first_name,
        last_name=last_name,
        email=email,
        kind="authorized",
        invited_by_id=invited_by_id,
    )
    if existing is not None:
        person.account_state = "active" if person.password_hash else "invited"
    session.add(person)
    await session.flush()
    assert person.id is not None
    linked = await queries.linked_children(session, person.id)
    for child_id in child_ids:
        if child_id not in linked:
            session.add(ChildGuardian(child_id=child_id, guardian_id=person.id))
    return person


async def revoke(session: AsyncSession, person: Guardian, child_ids: Iterable[int]) -> bool:
    """Unlink the person from these children, in the caller's transaction. Another family may
    still count on them: True when no link remains and the account is closed."""
    assert person.id is not None
    await session.execute(
        delete(ChildGuardian).where(
            col(ChildGuardian.guardian_id) == person.id,
            col(ChildGuardian.child_id).in_(list(child_ids)),
        )
    )
    if await queries.linked_children(session, person.id):
        return False
    person.account_state = "revoked"
    session.add(person)
    return True
