"""The one rule for every CSV we write: text a spreadsheet would run as a formula is neutralised.

Student folder and file names, flags and notebook names reach the gradebooks; a cell starting
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel, LibreOffice and
Google Sheets (``=HYPERLINK(...)``, ``@SUM(...)``).  The OWASP rule: prefix such text with a single
quote, which the spreadsheet shows and does not run.  Numbers we write ourselves are passed as
numbers and stay numbers, so a score column is never quoted.
"""
from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """``value`` as it may be written to a CSV cell: numbers unchanged, text neutralised, None empty."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(handle: IO[str], columns: Iterable[str], rows: Iterable[Mapping[str, Any]]) -> None:
    """A header and ``rows`` (dicts keyed by column), every cell through :func:`spreadsheet_cell`.

    Lines end in ``\\n``; the csv module then quotes a field holding ``\\n`` but not one holding a
    bare ``\\r``, which readers take for a line break: such a row has all its text fields quoted.
    """
    columns = list(columns)
    plain = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
    quoted = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
    plain.writeheader()
    for row in rows:
        cells = {column: spreadsheet_cell(row.get(column)) for column in columns}
        carriage_return = any(isinstance(value, str) and "\r" in value for value in cells.values())
        (quoted if carriage_return else plain).writerow(cells)
