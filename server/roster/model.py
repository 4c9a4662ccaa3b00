"""The normalized roster every input becomes, and the row-level error every reader reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Source:
    """Where a record came from: a CSV file and its line (1 = header), or an API list and its
    index."""

    file: str
    line: int


@dataclass
class RosterGroup:
    id: str
    name: str
    source: Source | None = None


@dataclass
class RosterInstallation:
    id: str
    name: str
    latitude: float | None = None
    longitude: float | None = None
    groups: list[RosterGroup] = field(default_factory=list)
    source: Source | None = None


@dataclass
class RosterGuardian:
    id: str
    first_name: str
    last_name: str
    email: str
    source: Source | None = None


@dataclass
class RosterChild:
    id: str
    first_name: str
    last_name: str
    installation_id: str
    group_id: str
    agreement_active: bool = True
    pickup_enabled: bool = True
    guardian_ids: list[str] = field(default_factory=list)
    source: Source | None = None


@dataclass
class Roster:
    installations: list[RosterInstallation] = field(default_factory=list)
    guardians: list[RosterGuardian] = field(default_factory=list)
    children: list[RosterChild] = field(default_factory=list)


@dataclass(frozen=True)
class RowError:
    """One offending row: where it is, which field, what is wrong (a sentence), and the id of
    the record when known."""

    file: str
    line: int | None
    field: str
    message: str
    id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "id": self.id,
            "field": self.field,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        ident = f" [{self.id}]" if self.id else ""
        return f"{where}{ident} {self.field}: {self.message}"


def error_at(source: Source | None, field: str, message: str, ident: str | None) -> RowError:
    if source is None:
        return RowError("roster", None, field, message, ident)
    return RowError(source.file, source.line, field, message, ident)


class RosterInvalid(Exception):
    """The roster cannot be applied; nothing was. `errors` lists every offending row."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} error(s) in the roster")
        self.errors = errors
