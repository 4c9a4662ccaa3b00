"""CSV reading shared by both roster formats: decoding, the header check, rows with their line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from ..core.i18n import _
from .model import RosterInvalid, RowError

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass
class CsvRow:
    line: int
    cells: dict[str, str]  # lower-cased column name -> stripped value

    def get(self, column: str) -> str:
        return self.cells.get(column.lower(), "")


def decode(file: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RosterInvalid(
            [
                RowError(
                    file,
                    line,
                    "file",
                    _(
                        "The file is not UTF-8 text (byte {byte} on this line). "
                        "Save it as CSV UTF-8."
                    ).format(byte=f"0x{data[exc.start]:02x}"),
                )
            ]
        ) from None


def read_csv(file: str, data: bytes, required: tuple[str, ...]) -> Iterator[CsvRow]:
    """The rows of a CSV file with a header; raises RosterInvalid on missing columns."""
    text = decode(file, data)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        header = []
    except csv.Error as exc:
        raise RosterInvalid([RowError(file, 1, "file", str(exc))]) from None
    missing = [c for c in required if c.lower() not in header]
    if missing:
        raise RosterInvalid(
            [
                RowError(file, 1, column, _("Missing column {column}.").format(column=column))
                for column in missing
            ]
        )
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            yield CsvRow(
                reader.line_num,
                {name: value.strip() for name, value in zip(header, cells, strict=False)},
            )
    except csv.Error as exc:
        raise RosterInvalid([RowError(file, reader.line_num, "file", str(exc))]) from None
