"""Grade one submission: every part in its own worker, every check judged here.

This is the single place where checks meet student code; the CLI, batch grading, the
nbgrader preprocessor and the notebook's hidden tests all come through it.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from autograder import ENGINE_VERSION
from autograder.assignment.parts import PARTS, Part
from autograder.assignment.submission import load_submission
from autograder.checks import ALL_CHECKS, Check, Student
from autograder.errors import CheckFailed, StudentError, WorkerLost
from autograder.grading import scoring
from autograder.grading.report import CheckResult, GradeReport
from autograder.sandbox.limits import Limits
from autograder.sandbox.program import Program
from autograder.sandbox.student import SandboxedStudent

MAX_INCIDENT_FLAGS = 20


def run_check(check: Check, student: Student) -> tuple[CheckResult, str | None]:
    """Run one check, scored by rules 1 and 2 of :mod:`autograder.grading.scoring`; returns its
    result and, if the grading itself went wrong, a flag."""
    flag = None
    passed = False
    try:
        output = check.run(student) or ""
        passed = True
    except CheckFailed as exc:
        output = str(exc)
    except StudentError as exc:
        output = f"your code raised:\n{exc}"
    except WorkerLost as exc:
        output = str(exc)
    except Exception as exc:  # a bug in a check must not stop the grading of the rest
        output = f"internal grader error in this check ({type(exc).__name__}: {exc}); tell the course staff"
        flag = f"{check.name}: internal grader error {type(exc).__name__}: {exc}"
    return CheckResult(name=check.name, part=check.part, test_cell=check.test_cell,
                       score=scoring.check_score(check.points, passed=passed), max_score=float(check.points),
                       output=output.strip()), flag


def grade_part(part: Part, student_program: Program, limits: Limits, checks: Iterable[Check],
               report: GradeReport) -> None:
    student = SandboxedStudent(student_program, limits)
    try:
        for entry in checks:
            result, flag = run_check(entry, student)
            report.results.append(result)
            if flag:
                report.flags.append(flag)
    finally:
        student.close()
    notes = report.notes.setdefault(part.tag, [])
    if student.load and student.load.load_errors:
        notes += [f"error while loading your code: {error}" for error in student.load.load_errors]
    for reason in dict.fromkeys(student.lost):
        report.flags.append(f"{part.tag}: {reason}")
    report.flags += [f"{part.tag}: {incident}" for incident in student.incidents[:MAX_INCIDENT_FLAGS]]


def grade_submission(path: str | Path, *, limits: Limits | None = None, parts: Iterable[str] | None = None) -> GradeReport:
    """Grade every (or the named) part of one submission file."""
    submission = load_submission(path)
    limits = limits or Limits()
    report = GradeReport(submission=Path(path).name, digest=submission.digest, engine_version=ENGINE_VERSION)
    report.flags += list(submission.problems)
    wanted = set(parts) if parts else {part.tag for part in PARTS}
    for part in PARTS:
        if part.tag not in wanted:
            continue
        program, problems = part.program(submission)
        checks = [entry for entry in ALL_CHECKS if entry.part == part.tag]
        if problems:
            report.flags += [f"{part.tag}: {problem}" for problem in problems]
            report.notes.setdefault(part.tag, []).extend(problems)
        if not program.student:
            reason = f"no code found for {part.title} (cells {', '.join(part.student_cells)})"
            report.results += [CheckResult(entry.name, entry.part, entry.test_cell,  # rule 3
                                           scoring.check_score(entry.points, passed=False), float(entry.points), reason)
                               for entry in checks]
            continue
        grade_part(part, program, limits, checks, report)
    return report
