"""The spreadsheet rule (OWASP CSV injection): text that a spreadsheet would run is prefixed with a quote."""
from __future__ import annotations

import csv
import io

import pytest

from autograder.csv_cells import spreadsheet_cell, write_csv

FORMULAS = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+1", "-1+2", "\tx", "\rx", "=1+1", "-", "@"]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_a_spreadsheet_would_run_is_quoted(text):
    assert spreadsheet_cell(text) == "'" + text


@pytest.mark.parametrize("value, written", [
    ("alice", "alice"), ("alice=bob", "alice=bob"), (" =x", " =x"), ("", ""), (None, ""), ("'=x", "'=x"),
    (True, "True"), (15, 15), (7.5, 7.5), (-1, -1), (-0.25, -0.25), (0, 0),
])
def test_plain_text_and_numbers_stay_as_they_are(value, written):
    assert spreadsheet_cell(value) == written


def test_write_csv_quotes_text_but_not_numbers_and_reads_back_intact():
    buffer = io.StringIO()
    rows = [{"student": text, "score": -1.5, "flags": "-" + text} for text in FORMULAS]
    write_csv(buffer, ("student", "score", "flags"), rows)
    back = list(csv.DictReader(io.StringIO(buffer.getvalue(), newline="")))
    assert [row["student"] for row in back] == ["'" + text for text in FORMULAS]
    assert [row["flags"] for row in back] == ["'-" + text for text in FORMULAS]
    assert {row["score"] for row in back} == {"-1.5"}
