"""Demo data (CONTRACT.md). Only `make run` / `relais demo` create it; never a migration."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .core.models import (
    ApiToken,
    Attendance,
    CenterAccount,
    Child,
    ChildGuardian,
    Group,
    Guardian,
    Installation,
    Organization,
    Role,
    StaffUser,
)
from .core.security import hash_password, token_hash
from .pickups.attendance import check_in
from .pickups.rules import local_day

DEMO_PASSWORD = "demo-relais-2026"
DEMO_API_TOKEN = "demo-api-token"
DEMO_STAFF_EMAILS = ("direction@example.org", "accueil@example.org", "educatrice@example.org")
DEMO_PARENT_EMAIL = "parent@example.org"
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
    org = Organization(name="Service de garde Les Érables", timezone=TIMEZONE)
    session.add(org)
    await session.flush()
    assert org.id is not None
    password = hash_password(DEMO_PASSWORD)
    child_seq = 0
    first_installation: Installation | None = None
    lutins: Group | None = None
    for ext, name, lat, lon, groups in INSTALLATIONS:
        inst = Installation(
            organization_id=org.id,
            external_id=ext,
            name=name,
            display_name=name,
            latitude=lat,
            longitude=lon,
            timezone=TIMEZONE,
            preparation_minutes=5,
            call_window_start=time(0, 0),
            call_window_end=time(23, 59),
        )
        session.add(inst)
        await session.flush()
        assert inst.id is not None
        first_installation = first_installation or inst
        for g_ext, g_name in groups:
            group = Group(installation_id=inst.id, external_id=g_ext, name=g_name)
            session.add(group)
            await session.flush()
            assert group.id is not None
            if g_ext == "ERA-LUT":
                lutins = group
            for _ in range(CHILDREN_PER_GROUP):
                child_seq += 1
                first = FIRST_NAMES[child_seq % len(FIRST_NAMES)]
                last = LAST_NAMES[(child_seq * 7) % len(LAST_NAMES)]
                child = Child(
                    organization_id=org.id,
                    installation_id=inst.id,
                    group_id=group.id,
                    external_id=f"C{child_seq:04d}",
                    first_name=first,
                    last_name=last,
                )
                guardian = Guardian(
                    organization_id=org.id,
                    external_id=f"G{child_seq:04d}",
                    first_name=GUARDIAN_FIRST[child_seq % len(GUARDIAN_FIRST)],
                    last_name=last,
                    email=f"parent{child_seq:04d}@example.org",
                )
                session.add_all([child, guardian])
                await session.flush()
                assert child.id is not None and guardian.id is not None
                session.add(ChildGuardian(child_id=child.id, guardian_id=guardian.id))

    assert (
        first_installation is not None and first_installation.id is not None and lutins is not None
    )
    explorers = (
        await session.execute(select(Group).where(col(Group.external_id) == "ERA-EXP"))
    ).scalar_one()
    # The demo family: one parent, two children in two groups of Pavillon des Érables.
    parent = Guardian(
        organization_id=org.id,
        external_id="G-TREMBLAY",
        first_name="Julie",
        last_name="Tremblay",
        email=DEMO_PARENT_EMAIL,
        account_state="active",
        password_hash=password,
    )
    lea = Child(
        organization_id=org.id,
        installation_id=first_installation.id,
        group_id=lutins.id or 0,
        external_id="C-LEA",
        first_name="Léa",
        last_name="Tremblay",
    )
    noah = Child(
        organization_id=org.id,
        installation_id=first_installation.id,
        group_id=explorers.id or 0,
        external_id="C-NOAH",
        first_name="Noah",
        last_name="Tremblay",
    )
    session.add_all([parent, lea, noah])
    await session.flush()
    assert parent.id is not None and lea.id is not None and noah.id is not None
    session.add_all(
        [
            ChildGuardian(child_id=lea.id, guardian_id=parent.id),
            ChildGuardian(child_id=noah.id, guardian_id=parent.id),
        ]
    )

    staff = (
        ("direction@example.org", "Direction", Role.ADMIN, None, None),
        ("accueil@example.org", "Accueil", Role.RECEPTION, first_installation.id, None),
        (
            "educatrice@example.org",
            "Éducatrice des Lutins",
            Role.EDUCATOR,
            first_installation.id,
            lutins.id,
        ),
    )
    for email, display_name, role, inst_id, group_id in staff:
        session.add(
            StaffUser(
                organization_id=org.id,
                email=email,
                display_name=display_name,
                password_hash=password,
                role=role,
                installation_id=inst_id,
                home_group_id=group_id,
                created_at=now,
            )
        )
    # The integration is configured (green) for both installations (CONTRACT.md).
    org.integration_activated_at = now
    session.add(org)
    installations = (
        await session.execute(
            select(Installation).where(col(Installation.organization_id) == org.id)
        )
    ).scalars()
    for inst in installations:
        assert inst.id is not None
        email = DEMO_CENTER_EMAILS[inst.external_id]
        session.add(
            CenterAccount(
                installation_id=inst.id, email=email, password_hash=password, created_at=now
            )
        )
    session.add(
        ApiToken(
            organization_id=org.id,
            name="Démo",
            token_hash=token_hash(DEMO_API_TOKEN),
            created_at=now,
        )
    )
    await session.flush()
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
