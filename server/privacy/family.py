"""Whose data is whose: the people and children an export or an erasure covers.

- An export (s. 27) covers what Relais holds about one adult and, for a parent, their
  children: the children linked to them, the adults authorized to pick those children up,
  every pickup of those children. An authorized adult's export covers them and their own
  pickups.
- An erasure covers a household: the parents and children linked to each other (two
  parents, their children) and the adults authorized for those children — each named on the
  director's confirmation page before anything is erased.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.models import Child, ChildGuardian, Guardian


@dataclass
class Family:
    subject: Guardian
    parents: list[Guardian] = field(default_factory=list)  # kind "guardian", subject included
    children: list[Child] = field(default_factory=list)
    authorized: list[Guardian] = field(default_factory=list)  # kind "authorized"
    # Erasure only: authorized adults another household also counts on (unlinked, not erased).
    shared: list[Guardian] = field(default_factory=list)

    @property
    def adults(self) -> list[Guardian]:
        return [*self.parents, *self.authorized]

    @property
    def guardian_ids(self) -> list[int]:
        return [g.id for g in self.adults if g.id is not None]

    @property
    def child_ids(self) -> list[int]:
        return [c.id for c in self.children if c.id is not None]


async def _children_of(session: AsyncSession, guardian_ids: list[int]) -> list[Child]:
    query = (
        select(Child)
        .join(ChildGuardian, col(ChildGuardian.child_id) == col(Child.id))
        .where(col(ChildGuardian.guardian_id).in_(guardian_ids))
        .distinct()
        .order_by(col(Child.id))
    )
    return list(await session.scalars(query))


async def _adults_of(
    session: AsyncSession, organization_id: int, child_ids: list[int], invited_by: list[int]
) -> list[Guardian]:
    linked = select(col(ChildGuardian.guardian_id)).where(
        col(ChildGuardian.child_id).in_(child_ids)
    )
    query = (
        select(Guardian)
        .where(
            col(Guardian.organization_id) == organization_id,
            or_(col(Guardian.id).in_(linked), col(Guardian.invited_by_id).in_(invited_by)),
        )
        .order_by(col(Guardian.id))
    )
    return list(await session.scalars(query))


async def export_scope(session: AsyncSession, subject: Guardian) -> Family:
    """What an export of `subject` covers (see the module's docstring)."""
    assert subject.id is not None
    if subject.kind != "guardian":
        return Family(subject, [], [], [])
    children = await _children_of(session, [subject.id])
    adults = await _adults_of(
        session, subject.organization_id, [c.id for c in children if c.id], [subject.id]
    )
    authorized = [a for a in adults if a.kind == "authorized"]
    return Family(subject, [subject], children, authorized)


async def household(session: AsyncSession, subject: Guardian) -> Family:
    """The household an erasure of `subject` covers: parents and children linked to each
    other, then the adults authorized for them."""
    assert subject.id is not None
    if subject.kind != "guardian":
        return Family(subject, [], [], [subject])
    parents = {subject.id: subject}
    children: dict[int, Child] = {}
    while True:
        found = await _children_of(session, list(parents))
        children.update({c.id: c for c in found if c.id is not None})
        adults = await _adults_of(session, subject.organization_id, list(children), list(parents))
        more = {a.id: a for a in adults if a.kind == "guardian" and a.id not in parents}
        if not more:
            break
        parents.update({k: v for k, v in more.items() if k is not None})
    authorized: list[Guardian] = []
    shared: list[Guardian] = []
    for adult in (a for a in adults if a.kind == "authorized" and a.id is not None):
        linked = set(
            await session.scalars(
                select(col(ChildGuardian.child_id)).where(
                    col(ChildGuardian.guardian_id) == adult.id
                )
            )
        )
        (authorized if linked <= children.keys() else shared).append(adult)
    return Family(subject, list(parents.values()), list(children.values()), authorized, shared)
