"""The set-up contract: migrations match the models, the demo data is what CONTRACT.md lists,
and `relais serve` refuses what it must refuse."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlmodel import col

from server import cli, demo
from server.core.db import Database
from server.core.migrate import alembic_config, upgrade
from server.core.models import (
    ApiToken,
    Attendance,
    CenterAccount,
    Child,
    ChildGuardian,
    Group,
    Guardian,
    Installation,
    Organization,
    StaffUser,
)
from server.core.security import token_hash, verify_password
from server.ops import check


def test_migrations_build_exactly_the_models(empty_database_url: str) -> None:
    # On the engine under test: with RELAIS_TEST_DATABASE=postgresql, an empty PostgreSQL.
    url = empty_database_url
    upgrade(url)
    # Raises when the models hold a change no migration describes.
    command.check(alembic_config(url))


def test_demo_data_is_what_the_contract_lists(database_url: str) -> None:
    async def inspect() -> None:
        db = Database(database_url)
        async with db.session() as session:
            org = (await session.execute(select(Organization))).scalar_one()
            assert org.name == "Service de garde Les Érables"
            assert org.timezone == "America/Toronto"
            installations = (await session.execute(select(Installation))).scalars().all()
            assert {i.name for i in installations} == {
                "Pavillon des Érables",
                "Pavillon des Bouleaux",
            }
            for inst in installations:
                assert inst.preparation_minutes == 5
                assert (inst.call_window_start.isoformat(), inst.call_window_end.isoformat()) == (
                    "00:00:00",
                    "23:59:00",
                )
                assert 46.7 < (inst.latitude or 0) < 46.9  # Québec City
                groups = (
                    await session.execute(
                        select(func.count()).where(col(Group.installation_id) == inst.id)
                    )
                ).scalar_one()
                assert groups >= 3
                children = (
                    await session.execute(
                        select(func.count()).where(col(Child.installation_id) == inst.id)
                    )
                ).scalar_one()
                present = (
                    await session.execute(
                        select(func.count()).where(
                            col(Attendance.installation_id) == inst.id,
                            col(Attendance.checked_out_at).is_(None),
                        )
                    )
                ).scalar_one()
                assert children >= 40
                assert present == children

            for email in demo.DEMO_STAFF_EMAILS:
                user = (
                    await session.execute(select(StaffUser).where(col(StaffUser.email) == email))
                ).scalar_one()
                assert verify_password(user.password_hash, "demo-relais-2026")
            centres = (await session.execute(select(CenterAccount))).scalars().all()
            assert "centre.erables@example.org" in {c.email for c in centres}
            # Both installations' integration is configured (green).
            assert {c.installation_id for c in centres} == {i.id for i in installations}
            assert all(verify_password(c.password_hash, "demo-relais-2026") for c in centres)
            assert org.integration_activated_at is not None

            parent = (
                await session.execute(
                    select(Guardian).where(col(Guardian.email) == "parent@example.org")
                )
            ).scalar_one()
            assert parent.account_state == "active"
            assert verify_password(parent.password_hash, "demo-relais-2026")
            kids = (
                await session.execute(
                    select(Child, Group)
                    .join(ChildGuardian, col(ChildGuardian.child_id) == col(Child.id))
                    .join(Group, col(Group.id) == col(Child.group_id))
                    .where(col(ChildGuardian.guardian_id) == parent.id)
                )
            ).all()
            by_name = {child.full_name: group.name for child, group in kids}
            assert by_name["Léa Tremblay"] == "Les Lutins"
            assert by_name["Noah Tremblay"] not in {"Les Lutins"}
            assert {child.installation_id for child, _ in kids} == {
                next(i.id for i in installations if i.name == "Pavillon des Érables")
            }
            token = (
                await session.execute(
                    select(ApiToken).where(col(ApiToken.token_hash) == token_hash("demo-api-token"))
                )
            ).scalar_one()
            assert token.organization_id == org.id
        await db.dispose()

    asyncio.run(inspect())


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("RELAIS_DATABASE_URL", database_url)
    monkeypatch.setenv("RELAIS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("RELAIS_SECRET_KEY", "test")
    monkeypatch.setenv("RELAIS_PUBLIC_URL", "https://relais.example.org")
    monkeypatch.delenv("RELAIS_DEMO", raising=False)
    monkeypatch.delenv("RELAIS_REDIS_URL", raising=False)


def assert_serve_refuses(capsys: pytest.CaptureFixture[str], reason: str) -> None:
    """`relais serve` stops (exit status 2) and its error names `reason`."""
    assert cli.main(["serve"]) == 2
    assert reason in capsys.readouterr().err


@pytest.mark.usefixtures("cli_env")
def test_production_start_refuses_while_demo_accounts_exist(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert_serve_refuses(capsys, "demo accounts")


@pytest.mark.usefixtures("cli_env")
def test_production_start_needs_a_secret_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RELAIS_SECRET_KEY")
    assert_serve_refuses(capsys, "RELAIS_SECRET_KEY")


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("public_url", [None, "", "relais.example.org", "ftp://relais.example.org"])
def test_production_start_needs_the_public_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], public_url: str | None
) -> None:
    # Links in emails point there: without it they would follow the request's Host header.
    if public_url is None:
        monkeypatch.delenv("RELAIS_PUBLIC_URL")
    else:
        monkeypatch.setenv("RELAIS_PUBLIC_URL", public_url)
    assert_serve_refuses(capsys, "RELAIS_PUBLIC_URL")


@pytest.mark.usefixtures("cli_env")
def test_a_shifted_clock_is_for_demos_only(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RELAIS_CLOCK_OFFSET_SECONDS", "-3600")
    assert_serve_refuses(capsys, "RELAIS_CLOCK_OFFSET_SECONDS")


@pytest.mark.usefixtures("cli_env")
def test_several_workers_need_redis(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--workers", "2"]) == 2
    assert "RELAIS_REDIS_URL" in capsys.readouterr().err


def test_demo_loads_once_and_never_over_real_data(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    empty_database_url: str,
) -> None:
    url = empty_database_url
    monkeypatch.setenv("RELAIS_DATABASE_URL", url)
    monkeypatch.setenv("RELAIS_VAR_DIR", str(tmp_path))
    assert cli.main(["demo"]) == 0
    assert "created" in capsys.readouterr().out
    assert cli.main(["demo"]) == 0  # again: nothing duplicated
    assert "already" in capsys.readouterr().out

    async def organizations() -> int:
        db = Database(url)
        async with db.session() as session:
            count = (
                await session.execute(select(func.count()).select_from(Organization))
            ).scalar_one()
        await db.dispose()
        return int(count)

    assert asyncio.run(organizations()) == 1


def test_serve_lifts_the_open_files_limit_for_many_boards() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        limit = check.raise_open_files_limit()
        assert limit == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert hard == resource.RLIM_INFINITY or limit == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("cli_env")
def test_a_web_push_key_that_is_not_one_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RELAIS_VAPID_PRIVATE_KEY", "not-a-key")
    assert cli.main(["serve"]) == 2
    assert "RELAIS_VAPID_PRIVATE_KEY is not a P-256 private key" in capsys.readouterr().err


def _count(url: str, model: type[Organization] | type[Child]) -> int:
    async def count() -> int:
        db = Database(url)
        async with db.session() as session:
            found = (await session.execute(select(func.count()).select_from(model))).scalar_one()
        await db.dispose()
        return int(found)

    return asyncio.run(count())


@pytest.mark.usefixtures("cli_env")
def test_demo_reset_brings_the_demo_back(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # What a visitor does to a demo: a parent renamed, a second organization added.
    async def tamper() -> None:
        db = Database(database_url)
        async with db.session() as session:
            parent = (
                await session.scalars(
                    select(Guardian).where(col(Guardian.email) == demo.DEMO_PARENT_EMAIL)
                )
            ).one()
            parent.first_name = "Renommé"
            session.add(parent)
            await demo.organization(session, "Une autre garderie")
            await session.commit()
        await db.dispose()

    children = _count(database_url, Child)
    asyncio.run(tamper())
    assert _count(database_url, Organization) == 2

    assert cli.main(["demo", "--reset"]) == 0
    assert "reset" in capsys.readouterr().out

    async def parent_name() -> str:
        db = Database(database_url)
        async with db.session() as session:
            parent = (
                await session.scalars(
                    select(Guardian).where(col(Guardian.email) == demo.DEMO_PARENT_EMAIL)
                )
            ).one()
        await db.dispose()
        return parent.first_name

    assert _count(database_url, Organization) == 1
    assert _count(database_url, Child) == children
    assert asyncio.run(parent_name()) != "Renommé"
    # A demo again: `relais demo` finds its accounts.
    assert cli.main(["demo"]) == 0
    assert "already" in capsys.readouterr().out


def test_demo_reset_never_deletes_real_data(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    empty_database_url: str,
) -> None:
    url = empty_database_url
    monkeypatch.setenv("RELAIS_DATABASE_URL", url)
    monkeypatch.setenv("RELAIS_VAR_DIR", str(tmp_path))
    upgrade(url)

    async def real_organization() -> None:
        db = Database(url)
        async with db.session() as session:
            await demo.organization(session, "Garderie réelle")
            await session.commit()
        await db.dispose()

    asyncio.run(real_organization())
    assert cli.main(["demo", "--reset"]) == 1
    assert "nothing deleted" in capsys.readouterr().out
    assert _count(url, Organization) == 1
    assert _count(url, Child) == 0
