"""OneRoster 1.1 CSV (a zip of CSV files), the part a daycare needs:

- orgs.csv: schools become installations;
- classes.csv: classes of classType "homeroom" become groups of their school;
- users.csv: role "student" becomes a child; "guardian", "parent" or "relative" a guardian;
  a student's agentSourcedIds (comma-separated) names its guardians (a guardian's own
  agentSourcedIds naming students is honoured too);
- enrollments.csv: a student's homeroom enrollment gives its group.

Rows with status "tobedeleted" are skipped. OneRoster has no service agreement or pickup flag:
both default to true.
"""

from __future__ import annotations

import io
import zipfile

from ..core.i18n import _
from .csv_rows import MAX_FILE_BYTES, CsvRow, read_csv
from .model import (
    Roster,
    RosterChild,
    RosterGroup,
    RosterGuardian,
    RosterInstallation,
    RosterInvalid,
    RowError,
    Source,
)

FILES: dict[str, tuple[str, ...]] = {
    "orgs.csv": ("sourcedId", "name", "type"),
    "classes.csv": ("sourcedId", "title", "classType", "schoolSourcedId"),
    "users.csv": ("sourcedId", "role", "givenName", "familyName", "email"),
    "enrollments.csv": ("classSourcedId", "userSourcedId"),
}
GUARDIAN_ROLES = {"guardian", "parent", "relative"}
MAX_UNCOMPRESSED = 5 * MAX_FILE_BYTES


def _members(name: str, data: bytes) -> dict[str, bytes]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError):
        raise RosterInvalid(
            [RowError(name, None, "file", _("Not a zip file: send a OneRoster 1.1 CSV zip."))]
        ) from None
    with archive:
        infos = {info.filename.rsplit("/", 1)[-1].lower(): info for info in archive.infolist()}
        missing = [f for f in FILES if f not in infos]
        if missing:
            raise RosterInvalid(
                [
                    RowError(f, None, "file", _("The zip has no {file}.").format(file=f))
                    for f in missing
                ]
            )
        if sum(infos[f].file_size for f in FILES) > MAX_UNCOMPRESSED:
            raise RosterInvalid([RowError(name, None, "file", _("The zip is too large."))])
        try:
            return {f: archive.read(infos[f]) for f in FILES}
        except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
            raise RosterInvalid(
                [
                    RowError(
                        name, None, "file", _("The zip cannot be read: {error}").format(error=exc)
                    )
                ]
            ) from None


def _rows(members: dict[str, bytes], file: str) -> list[CsvRow]:
    return [
        row
        for row in read_csv(file, members[file], FILES[file])
        if row.get("status").lower() != "tobedeleted"
    ]


def _skipped(members: dict[str, bytes], file: str) -> set[str]:
    return {
        row.get("sourcedId")
        for row in read_csv(file, members[file], FILES[file])
        if row.get("status").lower() == "tobedeleted"
    }


def _ids(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def enrollment_error(row: CsvRow, column: str, message: str) -> RowError:
    """A problem with one line of enrollments.csv, named by its own sourcedId."""
    return RowError("enrollments.csv", row.line, column, message, row.get("sourcedId") or None)


def read(name: str, data: bytes) -> tuple[Roster, list[RowError]]:
    members = _members(name, data)
    # Read every file first: missing columns in any of them are reported together.
    problems: list[RowError] = []
    rows: dict[str, list[CsvRow]] = {}
    skipped: set[str] = set()
    for file in FILES:
        try:
            rows[file] = _rows(members, file)
            skipped |= _skipped(members, file)
        except RosterInvalid as invalid:
            problems += invalid.errors
    if problems:
        raise RosterInvalid(problems)

    errors: list[RowError] = []
    installations: dict[str, RosterInstallation] = {}
    roster = Roster()
    for row in rows["orgs.csv"]:
        if row.get("type").lower() != "school":
            continue
        inst = RosterInstallation(
            row.get("sourcedId"), row.get("name"), source=Source("orgs.csv", row.line)
        )
        roster.installations.append(inst)
        installations.setdefault(inst.id, inst)

    homerooms: dict[str, tuple[str, RosterGroup]] = {}
    other_classes: set[str] = set()
    for row in rows["classes.csv"]:
        class_id = row.get("sourcedId")
        if row.get("classType").lower() != "homeroom":
            other_classes.add(class_id)
            continue
        school = row.get("schoolSourcedId")
        group = RosterGroup(class_id, row.get("title"), source=Source("classes.csv", row.line))
        if school not in installations:
            errors.append(
                RowError(
                    "classes.csv",
                    row.line,
                    "schoolSourcedId",
                    _("Unknown school {id}.").format(id=school),
                    class_id,
                )
            )
            continue
        if class_id in homerooms:
            errors.append(
                RowError(
                    "classes.csv",
                    row.line,
                    "sourcedId",
                    _("Duplicate class id {id}.").format(id=class_id),
                    class_id,
                )
            )
            continue
        installations[school].groups.append(group)
        homerooms[class_id] = (school, group)

    students: dict[str, RosterChild] = {}
    guardian_ids: set[str] = set()
    other_users: set[str] = set()
    guardian_agents: list[tuple[str, list[str]]] = []
    for row in rows["users.csv"]:
        role = row.get("role").lower()
        user_id = row.get("sourcedId")
        src = Source("users.csv", row.line)
        if role == "student":
            child = RosterChild(
                user_id,
                row.get("givenName"),
                row.get("familyName"),
                "",
                "",
                guardian_ids=_ids(row.get("agentSourcedIds")),
                source=src,
            )
            roster.children.append(child)
            students.setdefault(user_id, child)
        elif role in GUARDIAN_ROLES:
            roster.guardians.append(
                RosterGuardian(
                    user_id, row.get("givenName"), row.get("familyName"), row.get("email"), src
                )
            )
            guardian_ids.add(user_id)
            guardian_agents.append((user_id, _ids(row.get("agentSourcedIds"))))
        else:
            other_users.add(user_id)
    for guardian_id, agents in guardian_agents:
        for student_id in agents:
            child_or_none = students.get(student_id)
            if child_or_none is not None and guardian_id not in child_or_none.guardian_ids:
                child_or_none.guardian_ids.append(guardian_id)
    for child in roster.children:
        # A student's agents may include teachers or other staff: only guardians count.
        child.guardian_ids = [
            g for g in child.guardian_ids if g not in other_users and g not in skipped
        ]

    placed: dict[str, int] = {}
    for row in rows["enrollments.csv"]:
        class_id, user_id = row.get("classSourcedId"), row.get("userSourcedId")
        role = row.get("role").lower()
        if role and role != "student":
            continue
        if class_id in skipped or user_id in skipped or class_id in other_classes:
            continue
        if class_id not in homerooms:
            errors.append(
                enrollment_error(
                    row, "classSourcedId", _("Unknown class {id}.").format(id=class_id)
                )
            )
            continue
        if user_id in other_users or user_id in guardian_ids:
            continue
        student = students.get(user_id)
        if student is None:
            errors.append(
                enrollment_error(
                    row, "userSourcedId", _("Unknown student {id}.").format(id=user_id)
                )
            )
            continue
        school, group = homerooms[class_id]
        if user_id in placed and (student.installation_id, student.group_id) != (school, group.id):
            errors.append(
                enrollment_error(
                    row,
                    "classSourcedId",
                    _("Student {id} is enrolled in two homerooms.").format(id=user_id),
                )
            )
            continue
        placed[user_id] = row.line
        student.installation_id, student.group_id = school, group.id
    for child in roster.children:
        if child.id not in placed:
            errors.append(
                RowError(
                    "users.csv",
                    child.source.line if child.source else None,
                    "enrollments",
                    _("Student {id} has no homeroom enrollment.").format(id=child.id),
                    child.id,
                )
            )
    # Reported above; left out so the checks that follow do not report them twice.
    roster.children = [c for c in roster.children if c.id in placed]
    return roster, errors
