"""``nbgrader export`` with our plugin: student ids, names and emails that look like formulas are text."""
from __future__ import annotations

import csv

from nbgrader.api import Gradebook

from autograder.nbgrader_steps.flaggedcsvexport import COLUMNS, FlaggedCsvExport

STUDENTS = {'=HYPERLINK("http://x","y")': ("@SUM(A1)", "+1", "-1+2@example.org"),
            "\tx": ("\rx", "plain", "plain@example.org")}


def test_export_neutralises_formula_cells_and_keeps_scores_numbers(tmp_path):
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(url) as gradebook:
        gradebook.add_assignment("=transformer")
        for student, (first, last, email) in STUDENTS.items():
            gradebook.add_student(student, first_name=first, last_name=last, email=email)
        gradebook.add_submission("=transformer", "\tx")
    destination = tmp_path / "grades.csv"
    with Gradebook(url) as gradebook:
        FlaggedCsvExport(to=str(destination)).export(gradebook)
    with open(destination, newline="", encoding="utf-8") as handle:
        assert handle.readline().strip() == ",".join(COLUMNS)
        handle.seek(0)
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert set(rows) == {"'" + student for student in STUDENTS}
    link = rows['\'=HYPERLINK("http://x","y")']
    assert (link["assignment"], link["first_name"], link["last_name"], link["email"]) == (
        "'=transformer", "'@SUM(A1)", "'+1", "'-1+2@example.org")
    assert (link["raw_score"], link["score"], link["flagged"], link["timestamp"]) == ("0.0", "0.0", "no", "")
    tab = rows["'\tx"]
    assert (tab["first_name"], tab["last_name"], tab["email"]) == ("'\rx", "plain", "plain@example.org")
    assert (tab["raw_score"], tab["max_score"], tab["flagged"]) == ("0.0", "0.0", "no")
