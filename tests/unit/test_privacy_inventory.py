"""docs/privacy.md is the data inventory Law 25 asks for: every table and every field, whether
it is personal, why, who sees it, how long it is kept. This fails when a model gains a table or
a field the inventory does not list — or when the inventory lists one that no longer exists."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import SQLModel

import server.core.models  # noqa: F401  (registers the tables)

INVENTORY = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
TABLE = re.compile(r"^### `(\w+)`", re.MULTILINE)
FIELD = re.compile(r"^\| `(\w+)` \| [^|]+ \| (yes|no)[^|]*\|$", re.MULTILINE)


def inventory() -> dict[str, set[str]]:
    text = INVENTORY.read_text(encoding="utf-8").split("## Data inventory", 1)[1]
    sections = TABLE.split(text)[1:]
    return {
        name: {field for field, _personal in FIELD.findall(body)}
        for name, body in zip(sections[::2], sections[1::2], strict=True)
    }


def test_every_table_and_field_is_in_the_inventory_and_nothing_else() -> None:
    listed = inventory()
    actual = {
        table.name: {column.name for column in table.columns}
        for table in SQLModel.metadata.sorted_tables
    }
    assert sorted(actual) == sorted(listed), "tables differ from docs/privacy.md's inventory"
    for name, columns in actual.items():
        assert not columns - listed[name], (
            f"{name}: not in docs/privacy.md: {columns - listed[name]}"
        )
        assert not listed[name] - columns, f"{name}: listed but gone: {listed[name] - columns}"


def test_each_table_says_why_who_sees_it_and_how_long() -> None:
    text = INVENTORY.read_text(encoding="utf-8").split("## Data inventory", 1)[1]
    for section in TABLE.split(text)[2::2]:
        intro = section.split("| field |", 1)[0]
        assert "Seen by" in intro or "Personal" in intro
        assert re.search(r"Kept|Deleted", intro), intro
