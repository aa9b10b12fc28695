"""``nbgrader export``: nbgrader's CSV columns plus whether each submission is flagged, and why.

Written with the csv module, so names or reasons containing commas stay in their column, and through
the one spreadsheet rule (:mod:`autograder.csv_cells`), so a student id like ``=HYPERLINK(...)`` is text.
"""
from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins.export import CsvExportPlugin

from autograder.csv_cells import write_csv
from autograder.nbgrader_steps.flags import submission_flags

NBGRADER_COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score")
COLUMNS = NBGRADER_COLUMNS + ("flagged", "flags")


class FlaggedCsvExport(CsvExportPlugin):
    """nbgrader's CSV export plus two columns: ``flagged`` (yes/no) and ``flags`` (the reasons, ' | ' between)."""

    def export(self, gradebook: Gradebook) -> None:
        destination = self.to or "grades.csv"
        self.log.info("Exporting grades (with autograder flags) to %s", destination)
        with open(destination, "w", newline="", encoding="utf-8") as handle:
            write_csv(handle, COLUMNS, self.rows(gradebook))

    def rows(self, gradebook: Gradebook):
        wanted_assignments = {str(name) for name in self.assignment}
        wanted_students = {str(name) for name in self.student}
        for assignment in gradebook.assignments:
            if wanted_assignments and assignment.name not in wanted_assignments:
                continue
            for student in gradebook.students:
                if wanted_students and student.id not in wanted_students:
                    continue
                row = {"assignment": assignment.name, "duedate": assignment.duedate, "student_id": student.id,
                       "last_name": student.last_name, "first_name": student.first_name, "email": student.email,
                       "max_score": assignment.max_score}
                try:
                    submission = gradebook.find_submission(assignment.name, student.id)
                except MissingEntry:
                    row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0,
                               flagged="no", flags="")
                else:
                    penalty = submission.late_submission_penalty or 0.0
                    flagged, reasons = submission_flags(gradebook, assignment.name, student.id)
                    row.update(timestamp=submission.timestamp, raw_score=submission.score,
                               late_submission_penalty=submission.late_submission_penalty,
                               score=max(0.0, submission.score - penalty),
                               flagged="yes" if flagged else "no", flags=" | ".join(reasons))
                yield row
