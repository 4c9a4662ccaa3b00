"""The one-file roster CSV: UTF-8 with a header, one row per child × guardian.

    installation_id, installation_name, group_id, group_name, child_id, child_first_name,
    child_last_name, agreement_active, pickup_enabled, guardian_id, guardian_first_name,
    guardian_last_name, guardian_email

A child with several guardians takes several rows (the child's columns repeated); a child
without a guardian takes one row with empty guardian columns.
"""

from __future__ import annotations

from ..core.i18n import _
from .csv_rows import read_csv
from .model import (
    Roster,
    RosterChild,
    RosterGroup,
    RosterGuardian,
    RosterInstallation,
    RowError,
    Source,
)
from .validate import parse_bool

COLUMNS = (
    "installation_id",
    "installation_name",
    "group_id",
    "group_name",
    "child_id",
    "child_first_name",
    "child_last_name",
    "agreement_active",
    "pickup_enabled",
    "guardian_id",
    "guardian_first_name",
    "guardian_last_name",
    "guardian_email",
)


def read(file: str, data: bytes) -> tuple[Roster, list[RowError]]:
    errors: list[RowError] = []
    installations: dict[str, RosterInstallation] = {}
    groups: dict[tuple[str, str], RosterGroup] = {}
    guardians: dict[str, RosterGuardian] = {}
    children: dict[str, RosterChild] = {}
    pairs: set[tuple[str, str]] = set()

    def conflict(line: int, field: str, ident: str) -> None:
        errors.append(
            RowError(
                file,
                line,
                field,
                _("Differs from an earlier row for the same id {id}.").format(id=ident),
                ident,
            )
        )

    for row in read_csv(file, data, COLUMNS):
        src = Source(file, row.line)
        inst_id, group_id, child_id = (
            row.get("installation_id"),
            row.get("group_id"),
            row.get("child_id"),
        )
        inst = installations.get(inst_id)
        if inst is None:
            inst = installations[inst_id] = RosterInstallation(
                inst_id, row.get("installation_name"), source=src
            )
        elif inst.name != row.get("installation_name"):
            conflict(row.line, "installation_name", inst_id)
        group = groups.get((inst_id, group_id))
        if group is None:
            group = groups[(inst_id, group_id)] = RosterGroup(
                group_id, row.get("group_name"), source=src
            )
            inst.groups.append(group)
        elif group.name != row.get("group_name"):
            conflict(row.line, "group_name", group_id)

        flags: dict[str, bool] = {}
        for column in ("agreement_active", "pickup_enabled"):
            value = parse_bool(row.get(column), default=True)
            if value is None:
                errors.append(
                    RowError(
                        file,
                        row.line,
                        column,
                        _("Not a yes/no value: {value!r} (use true or false).").format(
                            value=row.get(column)
                        ),
                        child_id,
                    )
                )
                value = True
            flags[column] = value
        child = RosterChild(
            child_id,
            row.get("child_first_name"),
            row.get("child_last_name"),
            inst_id,
            group_id,
            flags["agreement_active"],
            flags["pickup_enabled"],
            source=src,
        )
        known = children.get(child_id)
        if known is None:
            children[child_id] = known = child
        else:
            for field in (
                "first_name",
                "last_name",
                "installation_id",
                "group_id",
                "agreement_active",
                "pickup_enabled",
            ):
                if getattr(known, field) != getattr(child, field):
                    conflict(row.line, field if "_id" in field else f"child_{field}", child_id)
                    break

        guardian_id = row.get("guardian_id")
        if not guardian_id:
            continue
        if (child_id, guardian_id) in pairs:
            errors.append(
                RowError(
                    file,
                    row.line,
                    "guardian_id",
                    _("Duplicate row: child {child} and guardian {id} are already listed.").format(
                        child=child_id, id=guardian_id
                    ),
                    child_id,
                )
            )
            continue
        pairs.add((child_id, guardian_id))
        known.guardian_ids.append(guardian_id)
        guardian = RosterGuardian(
            guardian_id,
            row.get("guardian_first_name"),
            row.get("guardian_last_name"),
            row.get("guardian_email"),
            source=src,
        )
        seen = guardians.get(guardian_id)
        if seen is None:
            guardians[guardian_id] = guardian
        elif (seen.first_name, seen.last_name, seen.email.lower()) != (
            guardian.first_name,
            guardian.last_name,
            guardian.email.lower(),
        ):
            conflict(row.line, "guardian_email", guardian_id)
    roster = Roster(list(installations.values()), list(guardians.values()), list(children.values()))
    return roster, errors
