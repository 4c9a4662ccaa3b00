"""A fresh Relais database for the benchmark, built with the server's own migrations, models
and password hashing: one organization, N installations of present children in groups, each
child with one guardian; per installation the screens of a real daycare, already signed in —
a reception account (all groups) for the front desk, an educator per group (home group: that
group) for the group tablets, and a wall display (its link's token) — plus, for the first
children the run will announce, their guardian signed in on the family page; a director who
sees every installation; and an API token.

    python -m bench.seed sqlite+aiosqlite:///tmp/bench.db --installations 20 --children 60

The rows are written by the server's one builder of an organization's data (server/demo.py,
the demo's and the tests' too), as bulk INSERTs; children are checked in with Attendance rows
written directly (what check-in writes, without its board event: no board is open yet) and
the sessions as session rows (what signing in writes, without an argon2 check each),
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

from sqlalchemy.ext.asyncio import AsyncSession

from server import demo
from server.core.db import Database
from server.core.migrate import upgrade
from server.core.models import Group, Installation, Role, StaffUser
from server.core.security import hash_password, new_token
from server.web.sessions import PARENT, STAFF

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
    director = "Direction (banc d'essai)"
    await demo.staff(session, org_id, DIRECTOR_EMAIL, director, Role.ADMIN, password_hash, now)
    receptions = [
        demo.staff_row(
            org_id,
            f"accueil.{i:04d}@bench.example",
            f"Accueil {i:04d}",
            Role.RECEPTION,
            password_hash,
            now,
            installation_id,
        )
        for i, installation_id in enumerate(installation_ids)
    ]
    educators = [
        demo.staff_row(
            org_id,
            f"educ.{i:04d}.{g + 1}@bench.example",
            f"Éducatrice {i:04d} groupe {g + 1}",
            Role.EDUCATOR,
            password_hash,
            now,
            installation_id,
            group_id,
        )
        for i, installation_id in enumerate(installation_ids)
        for g, group_id in enumerate(group_ids[i])
    ]
    reception, tokens = [
        await demo.signed_in(
            session,
            "staff",
            await demo.insert_rows(session, StaffUser, rows),
            now,
            STAFF.lifetime,
            "bench",
        )
        for rows in (receptions, educators)
    ]
    per_installation, at = [], 0
    for groups in group_ids:
        per_installation.append(tokens[at : at + len(groups)])
        at += len(groups)
    return reception, per_installation


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
    order = announcement_order(children, per_group)
    # Per installation, the children (0-based in it) whose guardian is signed in.
    signed_in = [order[: families[i] if i < len(families) else 0] for i in range(installations)]
    async with db.session() as session:
        org = await demo.organization(
            session, "Centre de services scolaire (banc d'essai)", timezone=zone
        )
        assert org.id is not None
        installation_ids = await demo.insert_rows(
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
        per_installation = math.ceil(children / per_group)
        group_ids = await demo.insert_rows(
            session,
            Group,
            [
                {
                    "installation_id": inst,
                    "external_id": f"I{i:04d}-G{g}",
                    "name": f"Groupe {g + 1}",
                }
                for i, inst in enumerate(installation_ids)
                for g in range(per_installation)
            ],
        )
        groups_of = [
            group_ids[i * per_installation : (i + 1) * per_installation]
            for i in range(installations)
        ]
        # Family number i * children + c + 1: child c of installation i, in group c // per_group.
        members = [
            (i * children + c + 1, inst, groups_of[i][c // per_group])
            for i, inst in enumerate(installation_ids)
            for c in range(children)
        ]
        # Only an active account signs in to the family page.
        active = {i * children + c + 1 for i in range(installations) for c in signed_in[i]}
        made = await demo.families(
            session, org.id, members, width=6, domain="bench.example", active=active
        )
        await demo.present(
            session,
            [(f.child_id, inst) for f, (_, inst, _) in zip(made, members, strict=True)],
            zone,
            now,
        )
        sessions, educator_sessions = await _staff(
            session, org.id, installation_ids, groups_of, password, now
        )
        displays = await demo.displays(session, org.id, installation_ids, "Écran mural", now)
        family_tokens = await demo.signed_in(
            session,
            "parent",
            [
                made[i * children + c].guardian_id
                for i in range(installations)
                for c in signed_in[i]
            ],
            now,
            PARENT.lifetime,
            "bench",
        )
        await demo.api_token(session, org.id, api_token, "Banc d'essai", now)
        await session.commit()
    seeded = []
    taken = 0
    for i in range(installations):
        pairs = [
            (made[i * children + c].child_external, made[i * children + c].guardian_external)
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
