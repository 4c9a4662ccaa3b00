"""Telling the families of a real emergency: every guardian of a child on a roll gets the
director's message and the assembly point, by email (the push notice goes beside it, from the
web layer). A drill tells nobody (rules.tells_families)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from ..core.mail import Mailer, delivered
from ..core.models import ChildGuardian, Emergency, Guardian, Installation, RollLine
from ..core.templating import render

SUBJECT = "Relais — Fermeture d’urgence / Emergency closure"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str


async def guardians_told(session: AsyncSession, emergency_ids: Iterable[int]) -> list[Guardian]:
    """The guardians (not the adults they authorized) of the children on these rolls, once
    each, those with an address."""
    ids = list(emergency_ids)
    if not ids:
        return []
    rows = await session.execute(
        select(Guardian)
        .join(ChildGuardian, col(ChildGuardian.guardian_id) == col(Guardian.id))
        .join(RollLine, col(RollLine.child_id) == col(ChildGuardian.child_id))
        .where(
            col(RollLine.emergency_id).in_(ids),
            col(Guardian.kind) == "guardian",
            col(Guardian.erased_at).is_(None),
            col(Guardian.email) != "",
        )
        .distinct()
        .order_by(col(Guardian.id))
    )
    return list(rows.scalars())


async def emails(session: AsyncSession, started: list[Emergency]) -> list[Email]:
    """One email per guardian of a child present, naming the installation(s) of their
    children; each emergency records how many families it told."""
    found: dict[int, tuple[Guardian, list[Emergency]]] = {}
    for emergency in started:
        if emergency.drill or emergency.id is None:
            continue
        for guardian in await guardians_told(session, [emergency.id]):
            found.setdefault(guardian.id or 0, (guardian, []))[1].append(emergency)
        emergency.families_told = len(await guardians_told(session, [emergency.id]))
        session.add(emergency)
    written: list[Email] = []
    for guardian, theirs in found.values():
        places = []
        for emergency in theirs:
            installation = await session.get(Installation, emergency.installation_id)
            places.append(
                (installation.display_name or installation.name if installation else "", emergency)
            )
        body = render(
            "email/emergency.txt",
            first_name=guardian.first_name,
            places=places,
        )
        written.append(Email(guardian.email, SUBJECT, body))
    return written


async def send(mailer: Mailer, written: Iterable[Email]) -> None:
    """Send each; a failure is logged (`delivered`), the others still go."""
    for email in written:
        await delivered(mailer, email.to, email.subject, email.body)
