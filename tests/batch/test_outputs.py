"""grades.csv from ``grade-all``: a student named like a spreadsheet formula lands in it as text.

Graded with a stand-in grader (no sandbox), so that the test exercises discovery, the batch and the
CSV writer in seconds; the CSV rule itself is tested in tests/test_csv_cells.py.
"""
from __future__ import annotations

import csv
from pathlib import Path

from autograder import ENGINE_VERSION
from autograder.batch.outputs import Row, grades_csv
from autograder.batch.run import grade_all
from autograder.grading.report import CheckResult, GradeReport

# a file name cannot hold "/": the URL form is in the row test below
NAMES = ['=HYPERLINK("x","y")', "@SUM(A1)", "+1", "-1+2", "\tx", "\rx"]


def stand_in_grade(path, *, limits=None, parts=None, concurrent=False) -> GradeReport:
    """7.5 of 15 points and a flag that starts like a formula, whatever the file holds."""
    report = GradeReport(submission=Path(path).name, digest="0", engine_version=ENGINE_VERSION)
    report.results = [CheckResult("sdpa_values", "part-a", "test_sdpa", 7.5, 15.0, "")]
    report.flags = ["=cmd|' /C calc'!A0"]
    return report


STAND_IN = f"{stand_in_grade.__module__}:stand_in_grade"


def test_grade_all_neutralises_formula_names_in_grades_csv(tmp_path):
    folder = tmp_path / "submitted"
    folder.mkdir()
    for name in NAMES:
        (folder / f"{name}.py").write_text("x = 1\n")
    result = grade_all(folder, tmp_path / "out", jobs=1, parts=["part-a"], grader=STAND_IN, progress=False)
    assert sorted(row.student for row in result.rows) == sorted(NAMES)
    with open(result.out / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["student"] for row in rows) == sorted("'" + name for name in NAMES)
    assert sorted(row["submission"] for row in rows) == sorted(f"'{name}.py" for name in NAMES)
    for row in rows:
        assert (row["part-a"], row["total"], row["max"], row["status"]) == ("7.5", "7.5", "15", "graded")
        assert row["flags"] == "'=cmd|' /C calc'!A0"


def test_grades_csv_keeps_scores_numbers_and_quotes_every_text_column():
    report = GradeReport(submission="x.ipynb", digest="0", engine_version=ENGINE_VERSION)
    report.results = [CheckResult("sdpa_values", "part-a", "test_sdpa", 15.0, 15.0, "")]
    report.flags = ["@flag"]
    text = grades_csv([Row('=HYPERLINK("http://x","y")', "-1+2/transformer.ipynb", "graded", report)])
    row = next(csv.DictReader(text.splitlines()))
    assert (row["student"], row["submission"], row["flags"]) == (
        '\'=HYPERLINK("http://x","y")', "'-1+2/transformer.ipynb", "'@flag")
    assert (row["part-a"], row["part-b-hook"], row["total"], row["max"]) == ("15", "", "15", "15")
