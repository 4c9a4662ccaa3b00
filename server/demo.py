"""Demo data (CONTRACT.md), and the one builder of an organization's rows that the demo, the
benchmark's seed (bench/seed.py) and the tests all use: an organization, an installation and its
groups, children, guardians, staff, centre accounts, API tokens, wall displays, attendance and
signed-in sessions, each a small function. Only `make run` / `relais demo` load the demo; never
a migration."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, NamedTuple, TypeVar

from sqlalchemy import func, insert, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col

from .core.models import (
    ApiToken,
    Attendance,
    CenterAccount,
    Child,
    ChildGuardian,
    Display,
    Group,
    Guardian,
    Installation,
    Organization,
    Role,
    SignInSession,
    StaffUser,
)
from .core.security import hash_password, new_token, token_hash
from .pickups.attendance import check_in
from .pickups.rules import local_day

DEMO_PASSWORD = "demo-relais-2026"
DEMO_API_TOKEN = "demo-api-token"
DEMO_STAFF_EMAILS = ("direction@example.org", "accueil@example.org", "educatrice@example.org")
DEMO_PARENT_EMAIL = "parent@example.org"
DEMO_GRANDMOTHER_EMAIL = "denise.tremblay@example.org"  # an authorized person, no sign-in
DEMO_CENTER_EMAIL = "centre.erables@example.org"
DEMO_CENTER_EMAILS = {"ERA": DEMO_CENTER_EMAIL, "BOU": "centre.bouleaux@example.org"}
TIMEZONE = "America/Toronto"  # Québec's IANA zone

FIRST_NAMES = (
    "Émile",
    "Florence",
    "Liam",
    "Alice",
    "William",
    "Charlotte",
    "Thomas",
    "Rosalie",
    "Jacob",
    "Béatrice",
    "Nathan",
    "Juliette",
    "Félix",
    "Clara",
    "Samuel",
    "Mia",
    "Louis",
    "Zoé",
    "Arthur",
    "Léonie",
    "Édouard",
    "Olivia",
    "Raphaël",
    "Maëlle",
    "Jules",
    "Camille",
    "Antoine",
    "Éloïse",
    "Adam",
    "Laurence",
    "Victor",
    "Anaïs",
    "Hugo",
    "Margot",
    "Xavier",
    "Sofia",
    "Gabriel",
    "Élodie",
    "Benjamin",
    "Jade",
    "Mathis",
    "Romy",
    "Olivier",
    "Maude",
)
LAST_NAMES = (
    "Gagnon",
    "Roy",
    "Côté",
    "Bouchard",
    "Gauthier",
    "Morin",
    "Lavoie",
    "Fortin",
    "Gagné",
    "Ouellet",
    "Pelletier",
    "Bélanger",
    "Lévesque",
    "Bergeron",
    "Leblanc",
    "Paquette",
    "Girard",
    "Simard",
    "Boucher",
    "Caron",
    "Beaulieu",
    "Cloutier",
    "Dubé",
    "Poirier",
    "Fournier",
    "Lapointe",
    "Leclerc",
    "Lefebvre",
    "Poulin",
    "Thibault",
    "St-Pierre",
    "Nadeau",
    "Martin",
)
GUARDIAN_FIRST = (
    "Marie",
    "Julie",
    "Isabelle",
    "Nathalie",
    "Marc",
    "Éric",
    "Patrick",
    "Sophie",
    "Stéphane",
    "Geneviève",
    "Mélanie",
    "Jean-François",
    "Caroline",
    "Mathieu",
)

INSTALLATIONS = (
    (
        "ERA",
        "Pavillon des Érables",
        46.8139,
        -71.2082,
        (("ERA-LUT", "Les Lutins"), ("ERA-EXP", "Les Explorateurs"), ("ERA-HIB", "Les Hiboux")),
    ),
    (
        "BOU",
        "Pavillon des Bouleaux",
        46.7793,
        -71.2760,
        (("BOU-CAS", "Les Castors"), ("BOU-ETO", "Les Étoiles"), ("BOU-REN", "Les Renards")),
    ),
)
CHILDREN_PER_GROUP = 14

Row = TypeVar("Row", bound=SQLModel)
SessionKind = Literal["staff", "parent", "centre"]  # AccountKind's values


# -- the builder: each function writes its rows and flushes (ids known); the caller commits --


async def add(session: AsyncSession, row: Row) -> Row:
    """One row, inserted now: its id is set on return."""
    session.add(row)
    await session.flush()
    return row


def id_of(row: Any) -> int:
    """The id of a row already inserted."""
    assert row.id is not None
    return int(row.id)


async def insert_rows(
    session: AsyncSession, model: type[SQLModel], rows: Sequence[dict[str, Any]]
) -> list[int]:
    """A bulk INSERT … RETURNING id (thousands of rows in one statement); the ids in the order
    of `rows`."""
    if not rows:
        return []
    table: Any = model
    result = await session.execute(
        insert(table).returning(table.id, sort_by_parameter_order=True), list(rows)
    )
    return [int(row_id) for row_id in result.scalars().all()]


async def organization(session: AsyncSession, name: str, **fields: Any) -> Organization:
    return await add(session, Organization(name=name, **({"timezone": TIMEZONE} | fields)))


async def installation(
    session: AsyncSession,
    organization_id: int,
    external_id: str,
    name: str,
    groups: Iterable[tuple[str, str]] = (),
    **fields: Any,
) -> tuple[Installation, list[Group]]:
    """An installation and its groups, each (external id, name)."""
    inst = await add(
        session,
        Installation(organization_id=organization_id, external_id=external_id, name=name, **fields),
    )
    assert inst.id is not None
    made = [Group(installation_id=inst.id, external_id=ext, name=n) for ext, n in groups]
    session.add_all(made)
    await session.flush()
    return inst, made


async def child(
    session: AsyncSession, group: Group, organization_id: int, external_id: str, name: str
) -> Child:
    """A child of `group`; `name` is "First Last" (the last word is the last name)."""
    first, last = name.rsplit(" ", 1)
    assert group.id is not None
    return await add(
        session,
        Child(
            organization_id=organization_id,
            installation_id=group.installation_id,
            group_id=group.id,
            external_id=external_id,
            first_name=first,
            last_name=last,
        ),
    )


async def guardian(
    session: AsyncSession,
    organization_id: int,
    external_id: str,
    name: str,
    email: str,
    children: Iterable[Child] = (),
    **fields: Any,
) -> Guardian:
    """A guardian of `children` (linked); `name` is "First Last"."""
    first, last = name.rsplit(" ", 1)
    adult = await add(
        session,
        Guardian(
            organization_id=organization_id,
            external_id=external_id,
            first_name=first,
            last_name=last,
            email=email,
            **fields,
        ),
    )
    assert adult.id is not None
    await link(session, adult.id, *children)
    return adult


async def link(session: AsyncSession, guardian_id: int, *children: Child) -> None:
    """`guardian_id` is a guardian of each of `children`."""
    session.add_all(ChildGuardian(child_id=c.id or 0, guardian_id=guardian_id) for c in children)
    await session.flush()


def staff_row(
    organization_id: int,
    email: str,
    display_name: str,
    role: Role,
    password_hash: str,
    now: datetime,
    installation_id: int | None = None,
    home_group_id: int | None = None,
) -> dict[str, Any]:
    """A staff account's row (for `staff`, or many at once with `insert_rows`)."""
    return {
        "organization_id": organization_id,
        "email": email,
        "display_name": display_name,
        "password_hash": password_hash,
        "role": role,
        "installation_id": installation_id,
        "home_group_id": home_group_id,
        "created_at": now,
    }


async def staff(session: AsyncSession, *fields: Any, **named: Any) -> StaffUser:
    """A staff account (`staff_row`'s fields)."""
    return await add(session, StaffUser(**staff_row(*fields, **named)))


async def api_token(
    session: AsyncSession, organization_id: int, token: str, name: str, now: datetime, **fields: Any
) -> ApiToken:
    return await add(
        session,
        ApiToken(
            organization_id=organization_id,
            name=name,
            token_hash=token_hash(token),
            created_at=now,
            **fields,
        ),
    )


async def displays(
    session: AsyncSession,
    organization_id: int,
    installation_ids: Sequence[int],
    name: str,
    now: datetime,
    tokens: Sequence[str] = (),
) -> list[str]:
    """A wall display of every group per installation (what /admin creates), opened with
    /display/<token>: `tokens`, or new ones; the tokens."""
    tokens = list(tokens) or [new_token() for _ in installation_ids]
    rows = [
        {
            "organization_id": organization_id,
            "installation_id": installation_id,
            "name": name,
            "token_hash": token_hash(token),
            "created_at": now,
        }
        for token, installation_id in zip(tokens, installation_ids, strict=True)
    ]
    await insert_rows(session, Display, rows)
    return tokens


async def center_account(
    session: AsyncSession, installation_id: int, email: str, password_hash: str, now: datetime
) -> CenterAccount:
    return await add(
        session,
        CenterAccount(
            installation_id=installation_id,
            email=email,
            password_hash=password_hash,
            created_at=now,
        ),
    )


async def present(
    session: AsyncSession, children: Iterable[tuple[int, int]], timezone: str, now: datetime
) -> None:
    """Each (child id, installation id) checked in at `now`: the Attendance rows check-in
    writes, without its board event (for data loaded before any board is open)."""
    day = local_day(now, timezone)
    rows = [
        {"child_id": c, "installation_id": i, "day": day, "checked_in_at": now} for c, i in children
    ]
    if rows:
        await session.execute(insert(Attendance), rows)


async def signed_in(
    session: AsyncSession,
    kind: SessionKind,
    account_ids: Sequence[int],
    now: datetime,
    lifetime: timedelta,
    user_agent: str = "",
) -> list[str]:
    """A session per account of `kind` (what signing in writes, without a password check);
    their tokens, in the order of `account_ids`."""
    tokens = [new_token() for _ in account_ids]
    rows = [
        {
            "token_hash": token_hash(token),
            "kind": kind,
            "account_id": account_id,
            "created_at": now,
            "expires_at": now + lifetime,
            "user_agent": user_agent,
        }
        for token, account_id in zip(tokens, account_ids, strict=True)
    ]
    if rows:
        await session.execute(insert(SignInSession), rows)
    return tokens


class Family(NamedTuple):
    child_id: int
    guardian_id: int
    child_external: str
    guardian_external: str


async def families(
    session: AsyncSession,
    organization_id: int,
    members: Sequence[tuple[int, int, int]],
    *,
    width: int = 4,
    domain: str = "example.org",
    active: Container[int] = (),
) -> list[Family]:
    """Numbered families, one INSERT per table: for each (number, installation id, group id),
    child C<number> of that group and its one guardian G<number> (parent<number>@`domain`),
    named from the lists above; the guardians whose number is in `active` have an activated
    account."""
    kids: list[dict[str, Any]] = []
    parents: list[dict[str, Any]] = []
    for number, installation_id, group_id in members:
        last = LAST_NAMES[(number * 7) % len(LAST_NAMES)]
        common = {"organization_id": organization_id, "last_name": last}
        kids.append(
            common
            | {
                "installation_id": installation_id,
                "group_id": group_id,
                "external_id": f"C{number:0{width}d}",
                "first_name": FIRST_NAMES[number % len(FIRST_NAMES)],
            }
        )
        parents.append(
            common
            | {
                "external_id": f"G{number:0{width}d}",
                "first_name": GUARDIAN_FIRST[number % len(GUARDIAN_FIRST)],
                "email": f"parent{number:0{width}d}@{domain}",
                "account_state": "active" if number in active else "invited",
            }
        )
    child_ids = await insert_rows(session, Child, kids)
    guardian_ids = await insert_rows(session, Guardian, parents)
    if child_ids:
        await session.execute(
            insert(ChildGuardian),
            [
                {"child_id": c, "guardian_id": g}
                for c, g in zip(child_ids, guardian_ids, strict=True)
            ],
        )
    return [
        Family(c, g, str(k["external_id"]), str(p["external_id"]))
        for c, g, k, p in zip(child_ids, guardian_ids, kids, parents, strict=True)
    ]


# -- the demo ----------------------------------------------------------------------------------


async def has_data(session: AsyncSession) -> bool:
    return (await session.execute(select(func.count()).select_from(Organization))).scalar_one() > 0


async def demo_accounts_exist(session: AsyncSession) -> bool:
    """Any account that signs in with the published demo password, or the demo API token."""
    staff = (
        await session.execute(
            select(func.count())
            .select_from(StaffUser)
            .where(col(StaffUser.email).in_(DEMO_STAFF_EMAILS))
        )
    ).scalar_one()
    others = (
        await session.execute(
            select(func.count())
            .select_from(CenterAccount)
            .where(col(CenterAccount.email).in_(DEMO_CENTER_EMAILS.values()))
        )
    ).scalar_one() + (
        await session.execute(
            select(func.count())
            .select_from(Guardian)
            .where(
                col(Guardian.email) == DEMO_PARENT_EMAIL, col(Guardian.password_hash).is_not(None)
            )
        )
    ).scalar_one()
    tokens = (
        await session.execute(
            select(func.count())
            .select_from(ApiToken)
            .where(col(ApiToken.token_hash) == token_hash(DEMO_API_TOKEN))
        )
    ).scalar_one()
    return bool(staff or others or tokens)


async def load_demo(session: AsyncSession, now: datetime) -> None:
    """Create the demo organization. The caller commits."""
    org = await organization(session, "Service de garde Les Érables")
    assert org.id is not None
    password = hash_password(DEMO_PASSWORD)
    made: dict[str, Installation] = {}
    groups: dict[str, Group] = {}
    members: list[tuple[int, int, int]] = []  # (family number, installation, group)
    for ext, name, lat, lon, group_names in INSTALLATIONS:
        inst, inst_groups = await installation(
            session,
            org.id,
            ext,
            name,
            group_names,
            display_name=name,
            latitude=lat,
            longitude=lon,
            timezone=TIMEZONE,
        )
        assert inst.id is not None
        made[ext] = inst
        for group in inst_groups:
            assert group.id is not None
            groups[group.external_id] = group
            start = len(members) + 1
            members += [(n, inst.id, group.id) for n in range(start, start + CHILDREN_PER_GROUP)]
    await families(session, org.id, members)
    era = made["ERA"]
    assert era.id is not None
    # The demo family: one parent, two children in two groups of Pavillon des Érables.
    lea = await child(session, groups["ERA-LUT"], org.id, "C-LEA", "Léa Tremblay")
    noah = await child(session, groups["ERA-EXP"], org.id, "C-NOAH", "Noah Tremblay")
    julie = await guardian(
        session,
        org.id,
        "G-TREMBLAY",
        "Julie Tremblay",
        DEMO_PARENT_EMAIL,
        (lea, noah),
        account_state="active",
        password_hash=password,
    )
    # The children's grandmother, whom Julie authorized to pick them up: on the board's
    # Départ confirmation, the adult staff can choose when she comes instead.
    await guardian(
        session,
        org.id,
        "A-TREMBLAY-DENISE",
        "Denise Tremblay",
        DEMO_GRANDMOTHER_EMAIL,
        (lea, noah),
        kind="authorized",
        invited_by_id=julie.id,
    )
    for email, display_name, role, inst_id, group_id in (
        ("direction@example.org", "Direction", Role.ADMIN, None, None),
        ("accueil@example.org", "Accueil", Role.RECEPTION, era.id, None),
        (
            "educatrice@example.org",
            "Éducatrice des Lutins",
            Role.EDUCATOR,
            era.id,
            groups["ERA-LUT"].id,
        ),
    ):
        await staff(session, org.id, email, display_name, role, password, now, inst_id, group_id)
    # The integration is configured (green) for both installations (CONTRACT.md).
    org.integration_activated_at = now
    session.add(org)
    for ext, inst in made.items():
        assert inst.id is not None
        await center_account(session, inst.id, DEMO_CENTER_EMAILS[ext], password, now)
    await api_token(session, org.id, DEMO_API_TOKEN, "Démo", now)
    await check_in_everyone(session, now)


async def check_in_everyone(session: AsyncSession, now: datetime) -> int:
    """Demo only: every demo child present today (run at start-up, so the demo works any day).
    Children who already left today stay gone."""
    count = 0
    installations = (await session.execute(select(Installation))).scalars().all()
    for inst in installations:
        day = local_day(now, inst.timezone)
        children = (
            (
                await session.execute(
                    select(Child)
                    .outerjoin(
                        Attendance,
                        (col(Attendance.child_id) == col(Child.id)) & (col(Attendance.day) == day),
                    )
                    .where(col(Child.installation_id) == inst.id, col(Child.active).is_(True))
                    .where(col(Attendance.id).is_(None))
                )
            )
            .scalars()
            .all()
        )
        for child in children:
            await check_in(session, child, inst, now)
            count += 1
    return count


async def clear_everything(session: AsyncSession) -> None:
    """Delete every row of every table but Alembic's (the schema stays as migrated): what
    `relais demo --reset` does before loading the demo again. The caller checks that the
    database is a demo one, and commits."""
    connection = await session.connection()
    tables = [
        name
        for name in await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        if name != "alembic_version"
    ]
    quote = connection.dialect.identifier_preparer.quote
    if connection.dialect.name == "postgresql":
        # One statement: no order to work out between the foreign keys, ids from 1 again.
        await session.execute(
            text(f"TRUNCATE {', '.join(quote(t) for t in tables)} RESTART IDENTITY CASCADE")
        )
        return
    # SQLite: foreign keys are checked at the commit, when every table is empty.
    await session.execute(text("PRAGMA defer_foreign_keys = ON"))
    for table in tables:
        await session.execute(text(f"DELETE FROM {quote(table)}"))
