"""What the class report shows, read from what grading left: grade-all's folder (or the gradebook).

``grades.csv`` gives each student's numbers, status and flags exactly as the instructor's gradebook
has them; each ``<student>/results.json`` (Gradescope's format) gives the per-check verdicts and
their messages.  Nothing here grades or changes a score.
"""
from __future__ import annotations

import csv
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from autograder.assignment.parts import PARTS
from autograder.grading.report import CheckResult, GradeReport

PART_TAGS = tuple(part.tag for part in PARTS)
FLAG_SEPARATOR = " | "  # how grades.csv joins a row's flags (autograder/batch/outputs.py)
SECONDS_KEY = "grading_seconds"  # extra_data key of results.json holding the grading time, where recorded
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`")


class ReportError(ValueError):
    """The folder or gradebook holds nothing a report can be made from; the message says why."""


@dataclass
class Student:
    """One student's line: the numbers as the gradebook has them, and the verdicts behind them."""

    student: str
    status: str                                  # graded, failed, missing
    total: float
    max_score: float
    parts: dict[str, float | None]               # part tag (or test cell) -> points; None: not graded
    flags: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float | None = None


@dataclass
class ClassResults:
    """Everything one report shows, whatever it was read from."""

    source: str                                  # where it came from, for the page's heading
    students: list[Student]
    columns: tuple[str, ...]                     # the per-part (or per-test-cell) columns
    unit: str = "check"                          # what a CheckResult stands for here: "check" or "test cell"
    assignment: str | None = None                # the nbgrader assignment, where known
    notes: list[str] = field(default_factory=list)


def diagnosis(output: str) -> str:
    """The line of a failing check's message that says what is wrong: its last non-empty line.

    The checks put the case they tried first and what the code did wrong last ("Your weights are
    what you get when the scores are divided by d_k instead of sqrt(d_k)").
    """
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def message_group(message: str) -> str:
    """A message with its numbers and quoted names replaced, so that the same mistake groups together."""
    return _NUMBER.sub("#", _QUOTED.sub("'…'", message))


def common_diagnoses(results: ClassResults, top: int = 5) -> dict[str, list[tuple[int, str, list[str]]]]:
    """Per check: its ``top`` most common failure messages as (students, an example message, who), most first."""
    grouped: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for student in results.students:
        if student.status != "graded":
            continue
        for check in student.checks:
            if check.passed:
                continue
            message = diagnosis(check.output)
            grouped.setdefault(check.name, {}).setdefault(message_group(message), []).append((student.student, message))
    out = {}
    for name, groups in grouped.items():
        ranked = sorted(groups.values(), key=lambda members: (-len(members), members[0][1]))
        out[name] = [(len(members), Counter(m for _, m in members).most_common(1)[0][0],
                      sorted({who for who, _ in members})) for members in ranked[:top]]
    return out


def pass_rates(results: ClassResults) -> list[tuple[str, str, float, float, int]]:
    """(check, part, points, pass rate, attempts) for every check seen, lowest pass rate first."""
    seen: dict[str, list] = {}
    for student in results.students:
        if student.status != "graded":
            continue
        for check in student.checks:
            entry = seen.setdefault(check.name, [check.part, check.max_score, 0, 0])
            entry[2] += check.passed
            entry[3] += 1
    rows = [(name, part, points, passed / attempts, attempts) for name, (part, points, passed, attempts) in seen.items()]
    return sorted(rows, key=lambda row: (row[3], row[0]))


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _read_report(path: Path) -> tuple[GradeReport | None, float | None]:
    try:
        data = json.loads(path.read_text())
        report = GradeReport.from_gradescope(data)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None, None
    seconds = data.get("extra_data", {}).get(SECONDS_KEY)
    return report, float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else None


def from_results_dir(results_dir: Path) -> ClassResults:
    """The class as grade-all left it in ``results_dir``: grades.csv, and each student's results.json."""
    grades = results_dir / "grades.csv"
    if not grades.is_file():
        raise ReportError(f"{results_dir} has no grades.csv (run grade-all with --out {results_dir} first)")
    try:
        with grades.open(newline="") as handle:
            lines = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ReportError(f"cannot read {grades}: {exc}") from exc
    students, missing_json = [], []
    for line in lines:
        name = line.get("student") or ""
        folder = name if (results_dir / name).is_dir() or not name.startswith("'") else name[1:]  # csv_cells' quote
        report, seconds = _read_report(results_dir / folder / "results.json")
        if report is None:
            missing_json.append(name)
        flags = [flag for flag in (line.get("flags") or "").split(FLAG_SEPARATOR) if flag]
        students.append(Student(
            student=name, status=line.get("status") or "graded", total=_number(line.get("total") or "") or 0.0,
            max_score=_number(line.get("max") or "") or 0.0,
            parts={tag: _number(line.get(tag) or "") for tag in PART_TAGS},
            flags=flags, checks=report.results if report else [], seconds=seconds))
    if not students:
        raise ReportError(f"{grades} lists no students")
    columns = tuple(tag for tag in PART_TAGS if any(s.parts.get(tag) is not None for s in students))
    notes = []
    if missing_json:
        notes.append(f"no readable results.json for {', '.join(missing_json)}: their checks are not shown")
    # no path: the page is the same wherever the results lie, and names no folder of the grading machine
    return ClassResults(source="grade-all's results", students=students, columns=columns, notes=notes)
