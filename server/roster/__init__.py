"""Roster import: the daycare's installations, groups, children and guardians, from the API
(PUT /api/v1/roster), a OneRoster 1.1 CSV zip, or a simple one-file CSV.

Every input becomes a `model.Roster`; `validate` finds the offending rows; `apply` computes a
`Plan` against the database and applies it in one transaction.
"""

from __future__ import annotations

from .model import Roster, RosterInvalid, RowError
from .read import read_file

__all__ = ["Roster", "RosterInvalid", "RowError", "read_file"]
