"""Grade one submission: every part in its own worker, every check judged here.

This is the single place where checks meet student code; the CLI, batch grading, the
nbgrader preprocessor and the notebook's hidden tests all come through it.
"""
from __future__ import annotations

import dataclasses
import importlib
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from autograder import ENGINE_VERSION
from autograder.assignment.parts import PARTS, Part
from autograder.assignment.submission import load_submission
from autograder.assignment.tamper_scan import scan_submission
from autograder.checks import ALL_CHECKS, Check, Student
from autograder.errors import CheckFailed, MalformedReply, StudentError, WorkerLost
from autograder.grading import feedback, scoring
from autograder.grading.report import CheckResult, GradeReport
from autograder.sandbox.limits import Limits
from autograder.sandbox.program import Program
from autograder.sandbox.student import SandboxedStudent

MAX_INCIDENT_FLAGS = 20
BUDGET_FLAG = "the grading time budget"  # how that flag starts: "... (300 s) ran out in part-b-fix: ..."


def run_check(check: Check, student: Student) -> tuple[CheckResult, str | None]:
    """Run one check, scored by rules 1 and 2 of :mod:`autograder.grading.scoring`; returns its
    result and, if the grading itself went wrong, a flag."""
    flag = None
    passed = False
    try:
        output = check.run(student) or ""
        passed = True
    except CheckFailed as exc:
        output = feedback.shown(exc)
    except StudentError as exc:
        output = f"your code raised:\n{exc}"
    except WorkerLost as exc:
        output = str(exc)
        if isinstance(exc, MalformedReply):
            flag = str(exc)
    except Exception as exc:  # a bug in a check must not stop the grading of the rest
        output = f"internal grader error in this check ({type(exc).__name__}: {exc}); tell the course staff"
        flag = f"{check.name}: internal grader error {type(exc).__name__}: {exc}"
    return CheckResult(name=check.name, part=check.part, test_cell=check.test_cell,
                       score=scoring.check_score(check.points, passed=passed), max_score=float(check.points),
                       output=output.strip()), flag


def grade_part(part: Part, student_program: Program, limits: Limits, checks: Iterable[Check],
               report: GradeReport, deadline: float | None = None) -> None:
    """Run ``checks`` on ``student_program``, each of the part's workers serving its own test cells."""
    checks = list(checks)
    load_errors: list[str] = []
    for test_cells in part.workers():
        program = dataclasses.replace(student_program, test_cells=test_cells)
        student = SandboxedStudent(program, limits, deadline)
        try:
            for entry in checks:
                if entry.test_cell not in test_cells:
                    continue
                result, flag = run_check(entry, student)
                report.results.append(result)
                if flag and flag not in report.flags:
                    report.flags.append(flag)
        finally:
            student.close()
        if student.load:
            load_errors += student.load.load_errors
        report.flags += [flag for flag in (f"{part.tag}: {reason}" for reason in dict.fromkeys(student.lost))
                         if flag not in report.flags]
        report.flags += [flag for flag in (f"{part.tag}: {incident}" for incident in student.incidents)
                         if flag not in report.flags][:MAX_INCIDENT_FLAGS]
        if student.budget_spent and not any(flag.startswith(BUDGET_FLAG) for flag in report.flags):
            report.flags.append(f"{BUDGET_FLAG} ({limits.submission_seconds:g} s) ran out in {part.tag}: its remaining "
                                "checks and every later part scored 0")
    report.notes.setdefault(part.tag, []).extend(f"error while loading your code: {error}"
                                                 for error in dict.fromkeys(load_errors))


def import_ahead(parts: Iterable[Part]) -> threading.Thread:
    """Import the later parts' :attr:`~Part.grader_imports` in a thread while the first part grades.

    nltk (with scipy and scikit-learn) and transformers' tokenizers take 2-3 s to import, mostly
    while this process waits for Part A's worker.  Only a speed-up: the grades do not depend on it,
    and a part waits for the thread before it starts, so no two threads import the same modules.
    """
    names = list(dict.fromkeys(name for part in parts for name in part.grader_imports))

    def run() -> None:
        for name in names:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: S112  (the part's own import then reports it)
                continue

    thread = threading.Thread(target=run, name="autograder-import-ahead", daemon=True)
    thread.start()
    return thread


def grade_submission(path: str | Path, *, limits: Limits | None = None, parts: Iterable[str] | None = None) -> GradeReport:
    """Grade every (or the named) part of one submission file."""
    submission = load_submission(path)
    limits = limits or Limits()
    deadline = time.monotonic() + limits.submission_seconds
    report = GradeReport(submission=Path(path).name, digest=submission.digest, engine_version=ENGINE_VERSION)
    report.flags += list(submission.problems)
    report.flags += scan_submission(submission)  # evidence the student's code cannot erase: it never ran
    wanted = set(parts) if parts else {part.tag for part in PARTS}
    importing = import_ahead(part for part in PARTS if part.tag in wanted)
    for part in PARTS:
        if part.tag not in wanted:
            continue
        if part.grader_imports:
            importing.join()
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
        grade_part(part, program, limits, checks, report, deadline)
    return report
