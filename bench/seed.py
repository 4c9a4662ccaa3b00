"""A fresh Relais database for the benchmark, built with the server's own migrations, models
and password hashing: one organization, N installations of present children in groups, each
child with one guardian; per installation the screens of a real daycare, already signed in —
a reception account (all groups) for the front desk, an educator per group (home group: that
group) for the group tablets, and a wall display (its link's token) — plus, for the first
children the run will announce, their guardian signed in on the family page; a director who
sees every installation; and an API token.

    python -m bench.seed sqlite+aiosqlite:///tmp/bench.db --installations 20 --children 60

Rows go in as bulk INSERTs; children are checked in with Attendance rows written directly
(what check-in writes, without its board event: no board is open yet) and the sessions as
StaffSession and GuardianSession rows (what signing in writes, without an argon2 check each),
so a seed of thousands of children takes seconds.

Each installation's children are listed in the order the announcer takes them: one from each
group in turn, so the changes of a run fall on every group's tablet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from server.core.db import Database
from server.core.migrate import upgrade
from server.core.models import (
    ApiToken,
    Attendance,
    Child,
    ChildGuardian,
    Display,
    Group,
    Guardian,
    GuardianSession,
    Installation,
    Organization,
    Role,
    StaffSession,
    StaffUser,
)
from server.core.security import hash_password, new_token, token_hash
from server.demo import FIRST_NAMES, GUARDIAN_FIRST, LAST_NAMES
from server.pickups.rules import local_day
from server.web.context import SESSION_LIFETIME
from server.web.parent_session import PARENT_SESSION_LIFETIME

DIRECTOR_EMAIL = "direction@bench.example"


@dataclass(frozen=True)
class SeededInstallation:
    id: int  # what the board URL takes
    external_id: str  # what the API takes
    timezone: str
    # (child external id, guardian external id), one pair per child, each announced once, in
    # the announcer's order (one from each group in turn).
    children: list[tuple[str, str]]
    # The reception account's session token: the cookie its boards present.
    reception_session: str
    # Per group (in order), the session token of its educator (home group: that group).
    educator_sessions: list[str]
    # The wall display's token: its socket is /board/ws?display=<token>.
    display_token: str
    # The guardian session tokens of the first len(family_sessions) children of `children`.
    family_sessions: list[str]


@dataclass(frozen=True)
class Seeded:
    database_url: str
    director_email: str
    director_password: str
    api_token: str
    installations: list[SeededInstallation]


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone where it is about noon now: a run never crosses the installations'
    local midnight, when the day's attendance and pickups would start over."""
    offset = round(now.astimezone(UTC).hour + now.minute / 60 - 12)
    offset = max(-12, min(14, offset))
    # POSIX sign convention: Etc/GMT+5 is five hours *behind* UTC.
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{offset:+d}"


def _rows(
    org_id: int, installations: int, children: int, per_group: int
) -> tuple[list[dict[str, object]], list[dict[str, object]], list[dict[str, object]]]:
    """Groups, children and guardians, as plain rows keyed by external ids (the database ids
    come back from the inserts)."""
    groups: list[dict[str, object]] = []
    kids: list[dict[str, object]] = []
    parents: list[dict[str, object]] = []
    number = 0
    for i in range(installations):
        for g in range(math.ceil(children / per_group)):
            groups.append(
                {"installation": i, "external_id": f"I{i:04d}-G{g}", "name": f"Groupe {g + 1}"}
            )
        for c in range(children):
            number += 1
            last = LAST_NAMES[(number * 7) % len(LAST_NAMES)]
            common = {"organization_id": org_id, "last_name": last}
            kids.append(
                common
                | {
                    "installation": i,
                    "group": f"I{i:04d}-G{c // per_group}",
                    "external_id": f"C{number:06d}",
                    "first_name": FIRST_NAMES[number % len(FIRST_NAMES)],
                }
            )
            parents.append(
                common
                | {
                    "external_id": f"G{number:06d}",
                    "first_name": GUARDIAN_FIRST[number % len(GUARDIAN_FIRST)],
                    "email": f"parent{number:06d}@bench.example",
                }
            )
    return groups, kids, parents


async def _insert(
    session: AsyncSession, model: type[SQLModel], rows: list[dict[str, object]]
) -> list[int]:
    """Bulk INSERT … RETURNING id, the ids in the order of `rows`."""
    table: Any = model
    result = await session.execute(
        insert(table).returning(table.id, sort_by_parameter_order=True), rows
    )
    return [int(row_id) for row_id in result.scalars().all()]


async def _sessions(session: AsyncSession, user_ids: list[int], now: datetime) -> list[str]:
    """One staff session per user (what signing in writes); the tokens, in the same order."""
    tokens = [new_token() for _ in user_ids]
    if not user_ids:
        return tokens
    await session.execute(
        insert(StaffSession),
        [
            {
                "token_hash": token_hash(token),
                "user_id": user_id,
                "created_at": now,
                "expires_at": now + SESSION_LIFETIME,
                "user_agent": "bench",
            }
            for token, user_id in zip(tokens, user_ids, strict=True)
        ],
    )
    return tokens


async def _staff(
    session: AsyncSession,
    org_id: int,
    installation_ids: list[int],
    group_ids: list[list[int]],
    password: str,
    now: datetime,
) -> tuple[list[str], list[list[str]]]:
    """The director, and per installation a signed-in reception account and a signed-in
    educator per group (`group_ids`, per installation); the session tokens, reception's per
    installation and the educators' per installation and group."""
    password_hash = hash_password(password)  # one argon2 hash: every account shares it
    session.add(
        StaffUser(
            organization_id=org_id,
            email=DIRECTOR_EMAIL,
            display_name="Direction (banc d'essai)",
            password_hash=password_hash,
            role=Role.ADMIN,
            created_at=now,
        )
    )
    user_ids = await _insert(
        session,
        StaffUser,
        [
            {
                "organization_id": org_id,
                "email": f"accueil.{i:04d}@bench.example",
                "display_name": f"Accueil {i:04d}",
                "password_hash": password_hash,
                "role": Role.RECEPTION,
                "installation_id": installation_id,
                "created_at": now,
            }
            for i, installation_id in enumerate(installation_ids)
        ],
    )
    reception = await _sessions(session, user_ids, now)
    educators = [
        {
            "organization_id": org_id,
            "email": f"educ.{i:04d}.{g + 1}@bench.example",
            "display_name": f"Éducatrice {i:04d} groupe {g + 1}",
            "password_hash": password_hash,
            "role": Role.EDUCATOR,
            "installation_id": installation_id,
            "home_group_id": group_id,
            "created_at": now,
        }
        for i, installation_id in enumerate(installation_ids)
        for g, group_id in enumerate(group_ids[i])
    ]
    tokens = await _sessions(session, await _insert(session, StaffUser, educators), now)
    per_installation, at = [], 0
    for groups in group_ids:
        per_installation.append(tokens[at : at + len(groups)])
        at += len(groups)
    return reception, per_installation


async def _displays(
    session: AsyncSession, org_id: int, installation_ids: list[int], now: datetime
) -> list[str]:
    """A wall display per installation, all groups (what /admin creates); their tokens."""
    tokens = [new_token() for _ in installation_ids]
    await session.execute(
        insert(Display),
        [
            {
                "organization_id": org_id,
                "installation_id": installation_id,
                "group_id": None,
                "name": "Écran mural",
                "token_hash": token_hash(token),
                "created_at": now,
            }
            for token, installation_id in zip(tokens, installation_ids, strict=True)
        ],
    )
    return tokens


async def _families(session: AsyncSession, guardian_ids: list[int], now: datetime) -> list[str]:
    """Each guardian signed in on their phone's family page; the session tokens."""
    tokens = [new_token() for _ in guardian_ids]
    if guardian_ids:
        await session.execute(
            insert(GuardianSession),
            [
                {
                    "token_hash": token_hash(token),
                    "guardian_id": guardian_id,
                    "created_at": now,
                    "expires_at": now + PARENT_SESSION_LIFETIME,
                    "user_agent": "bench",
                }
                for token, guardian_id in zip(tokens, guardian_ids, strict=True)
            ],
        )
    return tokens


def announcement_order(children: int, per_group: int) -> list[int]:
    """The children of one installation (0-based, child c in group c // per_group) in the
    order the announcer takes them: one from each group in turn."""
    return sorted(range(children), key=lambda c: (c % per_group, c // per_group))


async def _fill(
    db: Database,
    installations: int,
    children: int,
    per_group: int,
    families: Sequence[int],
    now: datetime,
) -> Seeded:
    password = new_token(18)
    api_token = new_token()
    zone = noon_zone(now)
    day = local_day(now, zone)
    order = announcement_order(children, per_group)
    # Per installation, the children (0-based in it) whose guardian is signed in.
    signed_in = [order[: families[i] if i < len(families) else 0] for i in range(installations)]
    async with db.session() as session:
        org = Organization(name="Centre de services scolaire (banc d'essai)", timezone=zone)
        session.add(org)
        await session.flush()
        assert org.id is not None
        installation_ids = await _insert(
            session,
            Installation,
            [
                {
                    "organization_id": org.id,
                    "external_id": f"I{i:04d}",
                    "name": f"École {i:04d}",
                    "latitude": 46.8139,
                    "longitude": -71.2082,
                    "timezone": zone,
                }
                for i in range(installations)
            ],
        )
        groups, kids, parents = _rows(org.id, installations, children, per_group)
        active = {i * children + c for i in range(installations) for c in signed_in[i]}
        for number, parent in enumerate(parents):
            # Only an active account signs in to the family page.
            parent["account_state"] = "active" if number in active else "invited"
        group_ids = await _insert(
            session,
            Group,
            [
                {"installation_id": installation_ids[int(str(g.pop("installation")))]} | g
                for g in groups
            ],
        )
        by_external = {str(g["external_id"]): gid for g, gid in zip(groups, group_ids, strict=True)}
        for kid in kids:
            kid["installation_id"] = installation_ids[int(str(kid.pop("installation")))]
            kid["group_id"] = by_external[str(kid.pop("group"))]
        child_ids = await _insert(session, Child, kids)
        guardian_ids = await _insert(session, Guardian, parents)
        await session.execute(
            insert(ChildGuardian),
            [
                {"child_id": c, "guardian_id": g}
                for c, g in zip(child_ids, guardian_ids, strict=True)
            ],
        )
        await session.execute(
            insert(Attendance),
            [
                {
                    "child_id": c,
                    "installation_id": kid["installation_id"],
                    "day": day,
                    "checked_in_at": now,
                }
                for c, kid in zip(child_ids, kids, strict=True)
            ],
        )
        per_installation = len(group_ids) // installations
        groups_of = [
            group_ids[i * per_installation : (i + 1) * per_installation]
            for i in range(installations)
        ]
        sessions, educator_sessions = await _staff(
            session, org.id, installation_ids, groups_of, password, now
        )
        displays = await _displays(session, org.id, installation_ids, now)
        family_tokens = await _families(
            session,
            [guardian_ids[i * children + c] for i in range(installations) for c in signed_in[i]],
            now,
        )
        session.add(
            ApiToken(
                organization_id=org.id,
                name="Banc d'essai",
                token_hash=token_hash(api_token),
                created_at=now,
            )
        )
        await session.commit()
    seeded = []
    taken = 0
    for i in range(installations):
        pairs = [
            (
                str(kids[i * children + c]["external_id"]),
                str(parents[i * children + c]["external_id"]),
            )
            for c in order
        ]
        mine = family_tokens[taken : taken + len(signed_in[i])]
        taken += len(signed_in[i])
        seeded.append(
            SeededInstallation(
                installation_ids[i],
                f"I{i:04d}",
                zone,
                pairs,
                sessions[i],
                educator_sessions[i],
                displays[i],
                mine,
            )
        )
    return Seeded(db.url, DIRECTOR_EMAIL, password, api_token, seeded)


def seed(
    database_url: str,
    installations: int,
    children: int,
    per_group: int = 14,
    families: Sequence[int] = (),
) -> Seeded:
    """Migrate the empty database at `database_url` and fill it. Blocking (own event loop).
    `families[i]`: how many of installation i's first children (in announcement order) have
    their guardian signed in on the family page."""
    upgrade(database_url)

    async def fill() -> Seeded:
        db = Database(database_url)
        try:
            return await _fill(db, installations, children, per_group, families, datetime.now(UTC))
        finally:
            await db.dispose()

    return asyncio.run(fill())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url", help="an empty database (SQLite file or PostgreSQL)")
    parser.add_argument("--installations", type=int, default=20)
    parser.add_argument("--children", type=int, default=60, help="per installation")
    parser.add_argument("--per-group", type=int, default=14)
    parser.add_argument(
        "--families", type=int, default=0, help="guardians signed in per installation"
    )
    args = parser.parse_args()
    seeded = seed(
        args.database_url,
        args.installations,
        args.children,
        args.per_group,
        [args.families] * args.installations,
    )
    summary = asdict(seeded)
    summary["installations"] = [
        {
            "id": i.id,
            "external_id": i.external_id,
            "children": len(i.children),
            "groups": len(i.educator_sessions),
            "families": len(i.family_sessions),
        }
        for i in seeded.installations
    ]
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
