"""Creating the first administrator from the command line."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import col

from ..core.clock import SystemClock
from ..core.db import Database
from ..core.models import Organization, Role, StaffUser
from ..core.security import hash_password
from ..core.settings import Settings
from .passwords import password_problem


async def create_admin(
    settings: Settings, email: str, name: str, password: str, organization: str | None
) -> str:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise ValueError("enter a valid email address")
    if not name.strip():
        raise ValueError("enter a name")
    problem = password_problem(password, password, email)
    if problem is not None:
        raise ValueError(problem.message)
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            orgs = (await session.execute(select(Organization))).scalars().all()
            if not orgs:
                if not organization:
                    raise ValueError('no organization yet: pass --organization "Name"')
                org = Organization(name=organization)
                session.add(org)
                await session.flush()
            elif len(orgs) == 1:
                org = orgs[0]
            else:
                match = [o for o in orgs if o.name == organization]
                if not match:
                    raise ValueError("several organizations: name one with --organization")
                org = match[0]
            assert org.id is not None
            exists = (
                await session.execute(
                    select(StaffUser).where(
                        col(StaffUser.organization_id) == org.id,
                        func.lower(col(StaffUser.email)) == email,
                    )
                )
            ).first()
            if exists is not None:
                raise ValueError(f"{email} already has an account in {org.name}")
            session.add(
                StaffUser(
                    organization_id=org.id,
                    email=email,
                    display_name=name.strip(),
                    password_hash=hash_password(password),
                    role=Role.ADMIN,
                    created_at=SystemClock().now(),
                )
            )
            await session.commit()
            return f"Administrator {email} created for {org.name}."
    finally:
        await db.dispose()
