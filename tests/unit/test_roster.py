"""Roster import from files (issue 4, item 3): a generated OneRoster 1.1 zip of 500 children and
700 guardians, the simple one-file CSV, bad files that give per-row errors and apply nothing,
and `relais import-roster`.

Files are built in memory by the generators below; nothing is a committed fixture.
"""

from __future__ import annotations

import csv
import io
import random
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from server import cli
from server.core.models import (
    Child,
    ChildGuardian,
    Group,
    Guardian,
    Installation,
    OutboxMessage,
)
from server.roster import RosterInvalid, read_file
from server.roster.apply import Outcome, Plan, apply_roster, plan_roster
from tests.helpers import T0, in_db, organization_id

BASE_URL = "http://testserver/"


# -- generators ----------------------------------------------------------------------------


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def oneroster_tables(children: int = 500, guardians: int = 700) -> dict[str, list[list[str]]]:
    """The rows (header first) of a OneRoster 1.1 CSV set: 2 schools with 4 homerooms each
    (plus a math class and a district), `children` students, `guardians` guardians (each
    student has one or two), a teacher, enrollments in homerooms and the math class."""
    modified = "2026-08-20T12:00:00.000Z"
    orgs = [
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "name",
            "type",
            "identifier",
            "parentSourcedId",
        ],
        ["D1", "active", modified, "Centre de services scolaire", "district", "", ""],
        ["S1", "active", modified, "École des Pins", "school", "", "D1"],
        ["S2", "", modified, "École des Cèdres", "school", "", "D1"],
    ]
    classes = [
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "grades",
            "courseSourcedId",
            "classCode",
            "classType",
            "location",
            "schoolSourcedId",
            "termSourcedIds",
            "subjects",
            "subjectCodes",
            "periods",
        ]
    ]
    homerooms = []
    for school in ("S1", "S2"):
        for n in range(1, 5):
            class_id = f"{school}-HR{n}"
            homerooms.append(class_id)
            classes.append(
                [
                    class_id,
                    "active",
                    modified,
                    f"Groupe {school}-{n}",
                    "KG",
                    "",
                    "",
                    "homeroom",
                    "",
                    school,
                    "T1",
                    "",
                    "",
                    "",
                ]
            )
    classes.append(
        [
            "MATH1",
            "active",
            modified,
            "Mathématiques",
            "01",
            "C1",
            "",
            "scheduled",
            "",
            "S1",
            "T1",
            "",
            "",
            "",
        ]
    )
    users = [
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "enabledUser",
            "orgSourcedIds",
            "role",
            "username",
            "userIds",
            "givenName",
            "familyName",
            "middleName",
            "identifier",
            "email",
            "sms",
            "phone",
            "agentSourcedIds",
            "grades",
            "password",
        ]
    ]
    enrollments = [
        [
            "sourcedId",
            "status",
            "dateLastModified",
            "classSourcedId",
            "schoolSourcedId",
            "userSourcedId",
            "role",
            "primary",
            "beginDate",
            "endDate",
        ]
    ]
    guardian_ids = [f"P{n:04d}" for n in range(1, guardians + 1)]
    # Every guardian has a child: the first `children` guardians one each, the rest a second
    # guardian of a child.
    agents: dict[str, list[str]] = {
        f"K{n:04d}": [guardian_ids[n - 1]] for n in range(1, children + 1)
    }
    for extra, guardian in enumerate(guardian_ids[children:]):
        agents[f"K{(extra % children) + 1:04d}"].append(guardian)
    for n in range(1, children + 1):
        student = f"K{n:04d}"
        homeroom = homerooms[n % len(homerooms)]
        users.append(
            [
                student,
                "active",
                modified,
                "true",
                homeroom[:2],
                "student",
                "",
                "",
                f"Enfant{n}",
                f"Famille{n}",
                "",
                "",
                "",
                "",
                "",
                ",".join(agents[student]),
                "KG",
                "",
            ]
        )
        enrollments.append(
            [
                f"E{n:04d}",
                "active",
                modified,
                homeroom,
                homeroom[:2],
                student,
                "student",
                "",
                "",
                "",
            ]
        )
        if n % 10 == 0:
            enrollments.append(
                [f"EM{n:04d}", "active", modified, "MATH1", "S1", student, "student", "", "", ""]
            )
    for n, guardian in enumerate(guardian_ids, start=1):
        users.append(
            [
                guardian,
                "active",
                modified,
                "true",
                "S1",
                "parent" if n % 2 else "guardian",
                "",
                "",
                f"Parent{n}",
                f"Famille{n}",
                "",
                "",
                f"parent.{n}@example.net",
                "",
                "",
                "",
                "",
                "",
            ]
        )
    users.append(
        [
            "TCH1",
            "active",
            modified,
            "true",
            "S1",
            "teacher",
            "",
            "",
            "Anne",
            "Prof",
            "",
            "",
            "anne@example.net",
            "",
            "",
            "",
            "",
            "",
        ]
    )
    enrollments.append(
        ["ET1", "active", modified, "S1-HR1", "S1", "TCH1", "teacher", "true", "", ""]
    )
    return {
        "orgs.csv": orgs,
        "classes.csv": classes,
        "users.csv": users,
        "enrollments.csv": enrollments,
    }


def oneroster_zip(tables: dict[str, list[list[str]]] | None = None) -> bytes:
    tables = tables if tables is not None else oneroster_tables()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.csv", "propertyName,value\r\nmanifest.version,1.0\r\n")
        for name, rows in tables.items():
            archive.writestr(name, _csv(rows[0], rows[1:]))
    return buffer.getvalue()


def cells(*parts: str) -> list[str]:
    """The cells of one CSV line written as text (`parts` joined)."""
    return "".join(parts).split(",")


# The simple CSV's columns, as its documentation lists them (server/roster/csv_simple.py).
SIMPLE_HEADER = cells(
    "installation_id,installation_name,group_id,group_name,",
    "child_id,child_first_name,child_last_name,agreement_active,pickup_enabled,",
    "guardian_id,guardian_first_name,guardian_last_name,guardian_email",
)


def simple_rows() -> list[list[str]]:
    """Léa with Julie and with a new guardian, and a new child without a guardian in a new
    installation: a row each."""
    lea = "ERA,Pavillon des Érables,ERA-LUT,Les Lutins,C-LEA,Léa,Tremblay,true,true,"
    return [
        cells(lea, "G-TREMBLAY,Julie,Tremblay,parent@example.org"),
        cells(lea, "G-NEW,Marc,Gagnon,marc.gagnon@example.net"),
        cells("NEW,Pavillon Neuf,NEW-A,Les Abeilles,C-NEW,Zoé,Roy,oui,non,", ",,,"),
    ]


# -- helpers ---------------------------------------------------------------------------------


def counts(database_url: str) -> dict[str, int]:
    async def work(session: AsyncSession) -> dict[str, int]:
        result = {}
        for name, query in {
            "installations": select(func.count()).select_from(Installation),
            "groups": select(func.count()).select_from(Group),
            "children": select(func.count()).select_from(Child),
            "active_children": select(func.count()).where(col(Child.active).is_(True)),
            "guardians": select(func.count()).select_from(Guardian),
            "links": select(func.count()).select_from(ChildGuardian),
            "outbox": select(func.count()).select_from(OutboxMessage),
        }.items():
            result[name] = int((await session.execute(query)).scalar_one())
        return result

    return in_db(database_url, work)


def apply_file(
    database_url: str, name: str, data: bytes, *, confirm_deactivations: bool = True
) -> Outcome:
    """Apply a file as the director does. These rosters replace the demo's children, so by
    default the deactivations are confirmed (the rule that asks: test_roster_deactivations)."""
    roster = read_file(name, data)
    org = organization_id(database_url)

    async def work(session: AsyncSession) -> Outcome:
        return await apply_roster(
            session,
            org,
            roster,
            base_url=BASE_URL,
            now=T0,
            confirm_deactivations=confirm_deactivations,
        )

    return in_db(database_url, work)


def plan_file(database_url: str, name: str, data: bytes) -> Plan:
    roster = read_file(name, data)
    org = organization_id(database_url)

    async def work(session: AsyncSession) -> Plan:
        return await plan_roster(session, org, roster)

    return in_db(database_url, work)


def errors_of(name: str, data: bytes) -> list[dict[str, Any]]:
    with pytest.raises(RosterInvalid) as caught:
        read_file(name, data)
    return [e.as_dict() for e in caught.value.errors]


# -- the big OneRoster import ------------------------------------------------------------------


def test_oneroster_500_children_700_guardians_imports_then_changes_nothing(
    database_url: str,
) -> None:
    data = oneroster_zip()
    before = counts(database_url)

    started = time.perf_counter()
    first = apply_file(database_url, "roster.zip", data)
    elapsed = time.perf_counter() - started
    print(f"\n500 children / 700 guardians: read + applied in {elapsed:.2f} s")

    after = counts(database_url)
    assert first.plan.created == {
        "installations": 2,
        "groups": 8,
        "guardians": 700,
        "children": 500,
    }
    assert after["installations"] == before["installations"] + 2
    assert after["groups"] == before["groups"] + 8
    assert after["children"] == before["children"] + 500
    assert after["guardians"] == before["guardians"] + 700
    assert after["links"] == 700 + _authorized_links(database_url)
    # The demo's children are not in the file: deactivated, not deleted.
    assert after["active_children"] == 500
    assert first.plan.deactivated["children"] == before["active_children"]
    assert len(first.emails) == 700  # every new guardian has an email: invited
    # One event per touched installation (2 new schools + the 2 demo pavilions).
    assert len(first.events) == 4
    assert {e.kind for e in first.events} == {"attendance"}

    second_plan = plan_file(database_url, "roster.zip", data)
    assert second_plan.empty
    second = apply_file(database_url, "roster.zip", data)
    assert second.plan.empty and second.emails == [] and second.events == []
    assert counts(database_url) == after

    # The imported data is what the file says: a student with two guardians, in its homeroom.
    async def check(session: AsyncSession) -> None:
        child = (
            await session.execute(select(Child).where(col(Child.external_id) == "K0001"))
        ).scalar_one()
        group = await session.get(Group, child.group_id)
        assert group is not None and group.external_id == "S1-HR2"
        assert (child.first_name, child.last_name, child.active) == ("Enfant1", "Famille1", True)
        guardians = (
            (
                await session.execute(
                    select(col(Guardian.external_id))
                    .join(ChildGuardian, col(ChildGuardian.guardian_id) == col(Guardian.id))
                    .where(col(ChildGuardian.child_id) == child.id)
                )
            )
            .scalars()
            .all()
        )
        assert sorted(guardians) == ["P0001", "P0501"]

    in_db(database_url, check)


def _authorized_links(database_url: str) -> int:
    async def work(session: AsyncSession) -> int:
        return int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(ChildGuardian)
                    .join(Guardian, col(Guardian.id) == col(ChildGuardian.guardian_id))
                    .where(col(Guardian.kind) != "guardian")
                )
            ).scalar_one()
        )

    return in_db(database_url, work)


def test_a_changed_roster_updates_moves_and_reinvites(database_url: str) -> None:
    tables = oneroster_tables(children=20, guardians=25)
    apply_file(database_url, "roster.zip", oneroster_zip(tables))
    users = tables["users.csv"]
    for row in users:
        if row[0] == "P0002":
            row[12] = "nouvelle.adresse@example.net"
        if row[0] == "K0003":
            row[1] = "tobedeleted"
    for row in tables["enrollments.csv"]:
        if row[5] == "K0005" and row[3] != "MATH1":
            row[3] = "S2-HR1"
    tables["classes.csv"][1][3] = "Groupe renommé"
    outcome = apply_file(database_url, "roster.zip", oneroster_zip(tables))
    plan = outcome.plan
    assert plan.created == {"installations": 0, "groups": 0, "guardians": 0, "children": 0}
    assert plan.updated == {"installations": 0, "groups": 1, "guardians": 1, "children": 1}
    assert plan.deactivated["children"] == 1
    assert [e.to for e in outcome.emails] == ["nouvelle.adresse@example.net"]
    assert len(outcome.events) == 2  # K0003's school and the two schools K0004 left/joined

    async def check(session: AsyncSession) -> None:
        k3 = (
            await session.execute(select(Child).where(col(Child.external_id) == "K0003"))
        ).scalar_one()
        assert k3.active is False

    in_db(database_url, check)


# -- the simple CSV ------------------------------------------------------------------------------


def test_simple_csv_creates_updates_and_links(database_url: str) -> None:
    data = _csv(SIMPLE_HEADER, simple_rows())
    outcome = apply_file(database_url, "roster.csv", data)
    plan = outcome.plan
    assert plan.created == {"installations": 1, "groups": 1, "guardians": 1, "children": 1}
    assert [e.to for e in outcome.emails] == ["marc.gagnon@example.net"]

    async def check(session: AsyncSession) -> None:
        zoe = (
            await session.execute(select(Child).where(col(Child.external_id) == "C-NEW"))
        ).scalar_one()
        assert (zoe.agreement_active, zoe.pickup_enabled, zoe.active) == (True, False, True)
        lea = (
            await session.execute(select(Child).where(col(Child.external_id) == "C-LEA"))
        ).scalar_one()
        links = (
            await session.execute(select(func.count()).where(col(ChildGuardian.child_id) == lea.id))
        ).scalar_one()
        # The new guardian beside Julie, and the grandmother Julie authorized (never synced,
        # so an import leaves her link alone).
        assert links == 3
        noah = (
            await session.execute(select(Child).where(col(Child.external_id) == "C-NOAH"))
        ).scalar_one()
        assert noah.active is False

    in_db(database_url, check)
    assert plan_file(database_url, "roster.csv", data).empty


# -- bad files: per-row errors, nothing applied -----------------------------------------------


def _drop_column(tables: dict[str, list[list[str]]], file: str, column: str) -> None:
    index = tables[file][0].index(column)
    for row in tables[file]:
        del row[index]


def _unknown_class(tables: dict[str, list[list[str]]]) -> None:
    tables["enrollments.csv"][5][3] = "NO-SUCH-CLASS"


def _duplicate_ids(tables: dict[str, list[list[str]]]) -> None:
    tables["users.csv"][3][0] = tables["users.csv"][2][0]


def _no_email(tables: dict[str, list[list[str]]]) -> None:
    # K0002's only guardian is P0002 (20 children, 20 guardians).
    for row in tables["users.csv"]:
        if row[0] == "P0002":
            row[12] = ""


BAD_TABLES: dict[str, tuple[Callable[[dict[str, list[list[str]]]], None], dict[str, Any]]] = {
    "missing column": (
        lambda t: _drop_column(t, "users.csv", "givenName"),
        {"file": "users.csv", "line": 1, "field": "givenName"},
    ),
    "unknown class": (
        _unknown_class,
        {"file": "enrollments.csv", "line": 6, "field": "classSourcedId"},
    ),
    "duplicate ids": (_duplicate_ids, {"file": "users.csv", "line": 4, "field": "id"}),
    "student without guardian email": (
        _no_email,
        {"file": "users.csv", "line": 3, "field": "guardian_ids", "id": "K0002"},
    ),
}


@pytest.mark.parametrize("case", BAD_TABLES)
def test_bad_oneroster_rows_are_reported_and_nothing_is_applied(
    database_url: str, case: str
) -> None:
    tables = oneroster_tables(children=20, guardians=20)
    spoil, expected = BAD_TABLES[case]
    spoil(tables)
    data = oneroster_zip(tables)
    before = counts(database_url)
    errors = errors_of("roster.zip", data)
    assert any(all(e.get(k) == v for k, v in expected.items()) for e in errors), errors
    assert all(e["message"] for e in errors)
    assert counts(database_url) == before


def test_duplicate_rows_are_each_reported(database_url: str) -> None:
    tables = oneroster_tables(children=20, guardians=20)
    tables["users.csv"][3][0] = tables["users.csv"][2][0]
    errors = errors_of("roster.zip", oneroster_zip(tables))
    assert {e["line"] for e in errors if e["field"] == "id"} == {3, 4}


def test_not_utf8_is_reported_with_its_line(database_url: str) -> None:
    tables = oneroster_tables(children=20, guardians=20)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, rows in tables.items():
            raw = _csv(rows[0], rows[1:])
            if name == "orgs.csv":
                raw = raw.decode("utf-8").encode("latin-1")  # "École" in latin-1
            archive.writestr(name, raw)
    before = counts(database_url)
    errors = errors_of("roster.zip", buffer.getvalue())
    assert errors[0]["file"] == "orgs.csv" and errors[0]["line"] == 3
    assert "UTF-8" in errors[0]["message"]
    simple = _csv(SIMPLE_HEADER, simple_rows()).decode("utf-8").encode("latin-1")
    errors = errors_of("roster.csv", simple)
    assert (errors[0]["file"], errors[0]["line"]) == ("roster.csv", 2)
    assert counts(database_url) == before


def test_not_a_zip_is_reported(database_url: str) -> None:
    noise = random.Random(4).randbytes(2048)
    errors = errors_of("roster.zip", noise)
    assert errors[0]["file"] == "roster.zip" and "zip" in errors[0]["message"].lower()
    incomplete = io.BytesIO()
    with zipfile.ZipFile(incomplete, "w") as archive:
        archive.writestr("orgs.csv", "sourcedId,name,type\r\n")
    missing = {e["file"] for e in errors_of("roster.zip", incomplete.getvalue())}
    assert missing == {"classes.csv", "users.csv", "enrollments.csv"}


def test_simple_csv_row_errors() -> None:
    rows = simple_rows()
    rows[0][7] = "peut-être"  # a bad boolean
    rows[1][5] = "L" * 101  # a name too long (and now differing from the row before)
    rows.append(
        [
            "ERA",
            "Pavillon des Érables",
            "NOPE",
            "Inconnu",
            "C-X",
            "X",
            "Y",
            "true",
            "true",
            "G-X",
            "X",
            "Y",
            "pas-une-adresse",
        ]
    )
    errors = errors_of("roster.csv", _csv(SIMPLE_HEADER, rows))
    found = {(e["line"], e["field"]) for e in errors}
    assert (2, "agreement_active") in found
    assert (5, "email") in found
    assert (5, "guardian_ids") in found  # pickup enabled, but no usable email
    assert any(line == 3 for line, _field in found)
    header = [h for h in SIMPLE_HEADER if h != "guardian_email"]
    missing = errors_of("roster.csv", _csv(header, [r[:-1] for r in simple_rows()]))
    assert [(e["line"], e["field"]) for e in missing] == [(1, "guardian_email")]


def test_other_extensions_are_refused() -> None:
    errors = errors_of("roster.xlsx", b"PK")
    assert ".zip" in errors[0]["message"] and ".csv" in errors[0]["message"]


# -- the command line ------------------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("RELAIS_DATABASE_URL", database_url)
    monkeypatch.setenv("RELAIS_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("RELAIS_SECRET_KEY", "test")
    monkeypatch.delenv("RELAIS_SMTP_URL", raising=False)
    monkeypatch.delenv("RELAIS_REDIS_URL", raising=False)


@pytest.mark.usefixtures("cli_env")
def test_cli_imports_with_a_progress_bar_and_a_summary(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "roster.zip"
    path.write_bytes(oneroster_zip(oneroster_tables(children=120, guardians=150)))
    before = counts(database_url)
    # It replaces the demo's children: the deactivations are confirmed on the command line.
    assert cli.main(["import-roster", str(path), "--confirm-deactivations"]) == 0
    out, err = capsys.readouterr()
    assert "120/120" in err and "#" in err
    assert "children" in out and "120" in out
    after = counts(database_url)
    assert after["children"] == before["children"] + 120
    assert after["outbox"] == before["outbox"] + 150  # no SMTP: invitations in the outbox
    assert cli.main(["import-roster", str(path)]) == 0
    assert "Nothing to change" in capsys.readouterr().out
    assert counts(database_url) == after


@pytest.mark.usefixtures("cli_env")
def test_cli_reports_errors_and_exits_1(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tables = oneroster_tables(children=20, guardians=20)
    _unknown_class(tables)
    path = tmp_path / "roster.zip"
    path.write_bytes(oneroster_zip(tables))
    before = counts(database_url)
    assert cli.main(["import-roster", str(path)]) == 1
    err = capsys.readouterr().err
    assert "enrollments.csv:6" in err and "NO-SUCH-CLASS" in err
    assert counts(database_url) == before
    assert cli.main(["import-roster", str(tmp_path / "absent.csv")]) == 1
    assert cli.main(["import-roster", str(path), "--organization", "Nope"]) == 1
