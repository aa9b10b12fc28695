"""The class report's data for nbgrader users: the gradebook (SQLite or PostgreSQL URL) and the feedback.

The gradebook holds a score per graded cell, so that is what the report shows per test cell.  The
per-check verdicts are in the autograded notebooks, when they are at hand: under each test cell
the engine's feedback (:class:`autograder.nbgrader_steps.trustedverdicts.TrustedVerdicts` replaced
every output the kernel made with it), one ``[PASS]``/``[FAIL] name (got/out of)`` line per check
followed by its indented message.  Only outputs that start with that step's heading are read.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from autograder.assignment.parts import PARTS
from autograder.grading.report import CheckResult
from autograder.nbgrader_steps.flags import submission_flags
from autograder.reporting.class_data import ClassResults, ReportError, Student

TRUSTED_HEADING = "Graded by the autograder outside your notebook's kernel"
_CHECK_LINE = re.compile(r"^\[(PASS|FAIL)\] (\S+) \(([-\d.e+]+)/([-\d.e+]+)\)$")
PART_OF_CELL = {cell: part.tag for part in PARTS for cell in part.test_cells}


def from_gradebook(url: str, assignment: str | None = None, autograded: Path | None = None) -> ClassResults:
    """The class as nbgrader's gradebook at ``url`` has it; per check where ``autograded/`` has the feedback."""
    from nbgrader.api import Gradebook, MissingEntry

    try:
        gradebook = Gradebook(url)
    except Exception as exc:  # SQLAlchemy raises many types for a bad URL or an unreachable server
        raise ReportError(f"cannot open the gradebook {url}: {type(exc).__name__}: {exc}") from exc
    try:
        names = [a.name for a in gradebook.assignments]
        if assignment is None:
            if len(names) != 1:
                raise ReportError(f"the gradebook has {len(names)} assignments ({', '.join(names) or 'none'}); "
                                  "choose one with --assignment")
            assignment = names[0]
        elif assignment not in names:
            raise ReportError(f"the gradebook has no assignment {assignment!r}")
        students: list[Student] = []
        cells: list[str] = []
        per_check = 0
        for person in sorted(gradebook.students, key=lambda s: s.id):
            try:
                submission = gradebook.find_submission(assignment, person.id)
            except MissingEntry:
                students.append(Student(person.id, "missing", 0.0, 0.0, {}, ["no submission"]))
                continue
            parts: dict[str, float | None] = {}
            checks: list[CheckResult] = []
            for notebook in submission.notebooks:
                found = _feedback_checks(autograded, person.id, assignment, notebook.name)
                per_check += bool(found)
                for grade in notebook.grades:
                    if grade.name not in cells:
                        cells.append(grade.name)
                    parts[grade.name] = float(grade.score)
                    checks += found.get(grade.name) or [CheckResult(
                        grade.name, PART_OF_CELL.get(grade.name, "manual"), grade.name, float(grade.score),
                        float(grade.max_score), "")]
            _, reasons = submission_flags(gradebook, assignment, person.id)
            students.append(Student(person.id, "graded", float(submission.score), float(submission.max_score),
                                    parts, reasons, checks))
    finally:
        gradebook.close()
    if not students:
        raise ReportError(f"the gradebook at {url} has no students")
    notes = [] if per_check else [
        "per test cell: the gradebook keeps one score per graded cell, and no autograded notebooks with the "
        "engine's per-check feedback were found" + (f" under {autograded}" if autograded else "")]
    return ClassResults(source=f"gradebook {_redacted(url)}, assignment {assignment}", students=students,
                        columns=tuple(cells), unit="check" if per_check else "test cell", assignment=assignment,
                        notes=notes)


def _redacted(url: str) -> str:
    """A database URL without its password, fit to be printed in a page."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def _feedback_checks(autograded: Path | None, student: str, assignment: str, notebook: str) -> dict[str, list[CheckResult]]:
    """Test cell -> the checks the engine's feedback in the autograded notebook lists (empty if not there)."""
    if autograded is None:
        return {}
    path = autograded / student / assignment / f"{notebook}.ipynb"
    try:
        cells = nbformat.read(path, as_version=4).cells
    except Exception:  # missing or unreadable: the gradebook's per-cell scores stand in
        return {}
    found: dict[str, list[CheckResult]] = {}
    for cell in cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        outputs = cell.get("outputs") or []
        text = outputs[0].get("text", "") if outputs and outputs[0].get("output_type") == "stream" else ""
        if not grade_id or not text.startswith(TRUSTED_HEADING):
            continue
        found[grade_id] = _parse_feedback(grade_id, text)
    return found


def _parse_feedback(test_cell: str, text: str) -> list[CheckResult]:
    checks: list[CheckResult] = []
    message: list[str] = []
    for line in text.splitlines():
        match = _CHECK_LINE.match(line)
        if match:
            if checks:
                checks[-1].output = "\n".join(message)
            message = []
            checks.append(CheckResult(match[2], PART_OF_CELL.get(test_cell, "manual"), test_cell, float(match[3]),
                                      float(match[4]), ""))
        elif checks and line.startswith("    "):
            message.append(line[4:])
    if checks:
        checks[-1].output = "\n".join(message)
    return checks
