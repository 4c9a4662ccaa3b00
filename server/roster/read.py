"""Reading a roster file: the format is chosen by the file name (.zip: OneRoster 1.1 CSV; .csv:
the simple one-file CSV), then the whole roster is validated."""

from __future__ import annotations

from ..core.i18n import _
from . import csv_simple, oneroster
from .model import Roster, RosterInvalid, RowError
from .validate import validate


def read_file(name: str, data: bytes) -> Roster:
    """A valid roster from an uploaded file, or RosterInvalid listing every offending row."""
    lowered = name.lower()
    if lowered.endswith(".zip"):
        roster, errors = oneroster.read(name, data)
    elif lowered.endswith(".csv"):
        roster, errors = csv_simple.read(name, data)
    else:
        raise RosterInvalid(
            [
                RowError(
                    name,
                    None,
                    "file",
                    _("Send a OneRoster 1.1 CSV zip (.zip) or a one-file roster CSV (.csv)."),
                )
            ]
        )
    errors += validate(roster)
    if errors:
        raise RosterInvalid(errors)
    return roster
