"""Grade one submission: every part in its own worker, every check judged here.

This is the single place where checks meet student code; the CLI, batch grading, the
nbgrader preprocessor and the notebook's hidden tests all come through it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from autograder import ENGINE_VERSION
from autograder.checks import ALL_CHECKS, Check, Student
from autograder.errors import CheckFailed, StudentError, WorkerLost
from autograder.assignment.parts import PARTS, Part
from autograder.grading.report import CheckResult, GradeReport
from autograder.sandbox import Limits, LoadReport, Program, Worker
from autograder.assignment.submission import load_submission

MAX_LOST_WORKERS = 2
MAX_INCIDENT_FLAGS = 20


class SandboxedStudent:
    """A part's code behind a worker process, restarted after it is lost (a few times at most)."""

    def __init__(self, program: Program, limits: Limits) -> None:
        self.program, self.limits = program, limits
        self.worker: Worker | None = None
        self.workers: list[Worker] = []
        self.load: LoadReport | None = None
        self.lost: list[str] = []
        self.given_up: str | None = None

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        if self.given_up:
            raise WorkerLost(self.given_up)
        if self.worker is None:
            worker = Worker(self.program, self.limits)
            self.workers.append(worker)
            try:
                self.load = worker.start()
            except WorkerLost as exc:
                self._give_up(f"your code could not be loaded: {exc}")
            self.worker = worker
        try:
            return self.worker.call(probe, timeout, **kwargs)
        except WorkerLost as exc:
            self.worker = None
            self.lost.append(str(exc))
            if len(self.lost) >= MAX_LOST_WORKERS:
                self.given_up = f"{exc} (the process running your code was lost {len(self.lost)} times; the remaining checks of this part were not run)"
            raise

    def _give_up(self, reason: str) -> None:
        self.given_up = reason
        self.lost.append(reason)
        raise WorkerLost(reason)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    @property
    def incidents(self) -> list[str]:
        """What the monitors of all this part's workers saw the student's code try (complete once closed)."""
        return list(dict.fromkeys(incident for worker in self.workers for incident in worker.incidents))


def run_check(check: Check, student: Student) -> tuple[CheckResult, str | None]:
    """Run one check; returns its result and, if the grading itself went wrong, a flag."""
    flag = None
    try:
        note = check.run(student)
        score, output = check.points, note or ""
    except CheckFailed as exc:
        score, output = 0.0, str(exc)
    except StudentError as exc:
        score, output = 0.0, f"your code raised:\n{exc}"
    except WorkerLost as exc:
        score, output = 0.0, str(exc)
    except Exception as exc:  # a bug in a check must not stop the grading of the rest
        score, output = 0.0, f"internal grader error in this check ({type(exc).__name__}: {exc}); tell the course staff"
        flag = f"{check.name}: internal grader error {type(exc).__name__}: {exc}"
    return CheckResult(name=check.name, part=check.part, test_cell=check.test_cell, score=float(score),
                       max_score=float(check.points), output=output.strip()), flag


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
            report.results += [CheckResult(entry.name, entry.part, entry.test_cell, 0.0, float(entry.points), reason)
                               for entry in checks]
            continue
        grade_part(part, program, limits, checks, report)
    return report
