"""The JSON body of PUT /api/v1/roster (CONTRACT.md), validated by pydantic for its shape, then
turned into a `Roster` and checked row by row like any file."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..core.i18n import _
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
from .validate import validate


class _Item(BaseModel):
    # Strict: JSON types as the OpenAPI declares them (`false`, never `0` or "no").
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class RosterGroupIn(_Item):
    id: str
    name: str


class RosterInstallationIn(_Item):
    id: str
    name: str
    latitude: float | None = None
    longitude: float | None = None
    groups: list[RosterGroupIn] = Field(default_factory=list)


class RosterGuardianIn(_Item):
    id: str
    first_name: str
    last_name: str
    email: str | None = None


class RosterChildIn(_Item):
    id: str
    first_name: str
    last_name: str
    installation_id: str
    group_id: str
    agreement_active: bool = True
    pickup_enabled: bool = True
    guardian_ids: list[str] = Field(default_factory=list)


class RosterIn(_Item):
    installations: list[RosterInstallationIn]
    guardians: list[RosterGuardianIn]
    children: list[RosterChildIn]


def _ident(raw: Any, loc: tuple[Any, ...]) -> str | None:
    try:
        item = raw[loc[0]][loc[1]]
    except (KeyError, IndexError, TypeError):
        return None
    value = item.get("id") if isinstance(item, dict) else None
    return value if isinstance(value, str) else None


def parse(raw: bytes) -> Roster:
    """A valid roster, or RosterInvalid with one error per offending row (`file` is the list:
    installations, guardians or children; `line` the index in it)."""
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise RosterInvalid([RowError("body", None, "body", _("The body is not JSON."))]) from None
    except RecursionError:  # the web checks nesting first (`web.limits`); other callers may not
        raise RosterInvalid(
            [RowError("body", None, "body", _("The JSON is nested too deeply."))]
        ) from None
    try:
        body = RosterIn.model_validate(data)
    except ValidationError as exc:
        errors = []
        for e in exc.errors():
            loc = tuple(e["loc"])
            if len(loc) >= 2 and isinstance(loc[1], int):
                field = ".".join(str(p) for p in loc[2:]) or str(loc[0])
                errors.append(RowError(str(loc[0]), loc[1], field, e["msg"], _ident(data, loc)))
            else:
                field = ".".join(str(p) for p in loc) or "body"
                errors.append(RowError("body", None, field, e["msg"]))
        raise RosterInvalid(errors) from None
    roster = Roster(
        installations=[
            RosterInstallation(
                i.id,
                i.name,
                i.latitude,
                i.longitude,
                [RosterGroup(g.id, g.name, Source("installations", n)) for g in i.groups],
                Source("installations", n),
            )
            for n, i in enumerate(body.installations)
        ],
        guardians=[
            RosterGuardian(g.id, g.first_name, g.last_name, g.email or "", Source("guardians", n))
            for n, g in enumerate(body.guardians)
        ],
        children=[
            RosterChild(
                c.id,
                c.first_name,
                c.last_name,
                c.installation_id,
                c.group_id,
                c.agreement_active,
                c.pickup_enabled,
                list(c.guardian_ids),
                Source("children", n),
            )
            for n, c in enumerate(body.children)
        ],
    )
    errors = validate(roster)
    if errors:
        raise RosterInvalid(errors)
    return roster


def api_error(error: RowError) -> dict[str, Any]:
    row = f"{error.file}[{error.line}]" if error.line is not None else error.file
    return {"row": row, "id": error.id, "field": error.field, "message": error.message}
