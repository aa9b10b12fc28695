"""Grade one submission: every part in its own worker, every check judged here.

This is the single place where checks meet student code; the CLI, batch grading, the
nbgrader preprocessor and the notebook's hidden tests all come through it.

With cores to spare, a worker whose checks are all registered ``alongside`` (the learning run,
the one long computation) is graded in a thread beside the others; its results are merged in
the parts' order, so the report is the same either way (``concurrent`` only changes the time).
A batch with a job per core grades submissions side by side already: there each grading runs its workers in turn.
"""
from __future__ import annotations

import dataclasses
import importlib
import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from autograder import ENGINE_VERSION
from autograder.assignment.parts import PARTS, Part
from autograder.assignment.submission import load_submission
from autograder.assignment.tamper_scan import scan_submission
from autograder.checks import ALL_CHECKS, Check, Student
from autograder.checks.registry import one_torch_thread
from autograder.errors import CheckFailed, MalformedReply, StudentError, WorkerLost
from autograder.grading import feedback, scoring
from autograder.grading.report import CheckResult, GradeReport
from autograder.sandbox.limits import Limits
from autograder.sandbox.program import Program
from autograder.sandbox.student import SandboxedStudent

MAX_INCIDENT_FLAGS = 20
BUDGET_FLAG = "the grading time budget"  # how that flag starts: "... (300 s) ran out in part-b-fix: ..."


def run_check(check: Check, student: Student, *, beside_others: bool = False) -> tuple[CheckResult, str | None]:
    """Run one check, scored by rules 1 and 2 of :mod:`autograder.grading.scoring`; returns its
    result and, if the grading itself went wrong, a flag."""
    flag = None
    passed = False
    try:
        output = check.run(student, beside_others=beside_others) or ""
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


@dataclasses.dataclass
class WorkerGrades:
    """What one worker's checks came to, before it is merged into the report."""

    part: Part
    results: list[CheckResult]
    check_flags: list[str]
    lost: list[str]
    incidents: list[str]
    load_errors: list[str]
    budget_spent: bool


def grade_worker(part: Part, program: Program, checks: Iterable[Check], limits: Limits,
                 deadline: float | None = None, *, beside_others: bool = False) -> WorkerGrades:
    """Run ``checks`` (those of ``program``'s test cells) on one worker running ``program``."""
    student = SandboxedStudent(program, limits, deadline)
    results, flags = [], []
    try:
        for entry in checks:
            if entry.test_cell in program.test_cells:
                result, flag = run_check(entry, student, beside_others=beside_others)
                results.append(result)
                flags += [flag] if flag else []
    finally:
        student.close()
    return WorkerGrades(part, results, flags, student.lost, student.incidents,
                        student.load.load_errors if student.load else [], student.budget_spent)


def merge(grades: WorkerGrades, report: GradeReport, limits: Limits) -> None:
    """Add one worker's results, flags and loading errors to ``report``, each flag once."""
    tag = grades.part.tag
    report.results += grades.results
    report.flags += [flag for flag in dict.fromkeys(grades.check_flags) if flag not in report.flags]
    report.flags += [flag for flag in (f"{tag}: {reason}" for reason in dict.fromkeys(grades.lost))
                     if flag not in report.flags]
    report.flags += [flag for flag in (f"{tag}: {incident}" for incident in grades.incidents)
                     if flag not in report.flags][:MAX_INCIDENT_FLAGS]
    if grades.budget_spent and not any(flag.startswith(BUDGET_FLAG) for flag in report.flags):
        report.flags.append(f"{BUDGET_FLAG} ({limits.submission_seconds:g} s) ran out in {tag}: every check "
                            "not yet run then scored 0")
    notes = report.notes.setdefault(tag, [])
    notes += [note for note in (f"error while loading your code: {error}" for error in dict.fromkeys(grades.load_errors))
              if note not in notes]


def import_ahead(parts: Iterable[Part]) -> threading.Thread:
    """Import the later parts' :attr:`~Part.grader_imports` in a thread while the first part grades.

    nltk (with scipy and scikit-learn) and transformers' tokenizers take 2-3 s to import, mostly
    while this process waits for Part A's worker.  Only a speed-up: the grades do not depend on it.
    A part graded in turn waits for the thread before it starts; a check graded beside the others
    may import at the same time, which Python's per-module import locks make safe.
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


def cores_to_spare() -> bool:
    """Whether this process may use two cores or more (what ``concurrent`` defaults to)."""
    return len(os.sched_getaffinity(0)) >= 2


def grade_submission(path: str | Path, *, limits: Limits | None = None, parts: Iterable[str] | None = None,
                     concurrent: bool | None = None) -> GradeReport:
    """Grade every (or the named) part of one submission file; ``concurrent`` (default: with two
    cores or more) grades the ``alongside`` checks' workers beside the rest."""
    submission = load_submission(path)
    limits = limits or Limits()
    concurrent = cores_to_spare() if concurrent is None else concurrent
    deadline = time.monotonic() + limits.submission_seconds
    report = GradeReport(submission=Path(path).name, digest=submission.digest, engine_version=ENGINE_VERSION)
    report.flags += list(submission.problems)
    report.flags += scan_submission(submission)  # evidence the student's code cannot erase: it never ran
    wanted = [part for part in PARTS if part.tag in (set(parts) if parts else {part.tag for part in PARTS})]
    with one_torch_thread(), ThreadPoolExecutor(max_workers=1, thread_name_prefix="autograder-beside") as beside:
        importing = import_ahead(wanted)
        steps: list[tuple[Part, list[Check], Program, list[str], list[Program | Future[WorkerGrades]]]] = []
        for part in wanted:
            program, problems = part.program(submission)
            checks = [entry for entry in ALL_CHECKS if entry.part == part.tag]
            workers: list[Program | Future[WorkerGrades]] = []
            for test_cells in part.workers() if program.student else ():
                worker = dataclasses.replace(program, test_cells=test_cells)
                mine = [entry for entry in checks if entry.test_cell in test_cells]
                if concurrent and mine and all(entry.alongside for entry in mine):
                    workers.append(beside.submit(grade_worker, part, worker, mine, limits, deadline, beside_others=True))
                else:
                    workers.append(worker)
            steps.append((part, checks, program, problems, workers))
        for part, checks, program, problems, workers in steps:
            if problems:
                report.flags += [f"{part.tag}: {problem}" for problem in problems]
                report.notes.setdefault(part.tag, []).extend(problems)
            if not program.student:
                reason = f"no code found for {part.title} (cells {', '.join(part.student_cells)})"
                report.results += [CheckResult(entry.name, entry.part, entry.test_cell,  # rule 3
                                               scoring.check_score(entry.points, passed=False), float(entry.points),
                                               reason) for entry in checks]
                continue
            if part.grader_imports:
                importing.join()
            for worker in workers:
                grades = worker.result() if isinstance(worker, Future) else grade_worker(part, worker, checks, limits, deadline)
                merge(grades, report, limits)
    return report
