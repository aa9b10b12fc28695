"""The class's gradebook and summary: ``grades.csv``, ``summary.json``, ``summary.txt``."""
from __future__ import annotations

import io
import json
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import ENGINE_VERSION
from autograder.assignment.parts import PARTS
from autograder.batch.files import write_atomic
from autograder.csv_cells import write_csv
from autograder.grading.report import GradeReport

PART_TAGS: tuple[str, ...] = tuple(part.tag for part in PARTS)
CSV_COLUMNS: tuple[str, ...] = ("student", "submission", *PART_TAGS, "total", "max", "status", "flags")


@dataclass
class Row:
    """One student's line in the gradebook."""

    student: str
    submission: str
    status: str  # "graded", "failed" (the grader could not grade it) or "missing" (nothing to grade)
    report: GradeReport
    reused: bool = False


def _number(value: float) -> str:
    return format(round(value, 4), "g")


def _score(value: float) -> int | float:
    """A score as a number for the CSV (15, 7.5), so that the spreadsheet rule leaves it a number."""
    rounded = round(float(value), 4)
    return int(rounded) if rounded.is_integer() else rounded


def csv_rows(rows: list[Row]) -> list[dict[str, object]]:
    """One dict per student with CSV_COLUMNS: scores as numbers, a part not graded in this run left empty."""
    lines = []
    for row in rows:
        parts = row.report.part_scores()
        line: dict[str, object] = {"student": row.student, "submission": row.submission}
        for tag in PART_TAGS:
            line[tag] = _score(parts[tag][0]) if tag in parts else ""
        line.update(total=_score(row.report.score), max=_score(row.report.max_score), status=row.status,
                    flags=" | ".join(" ".join(flag.split()) for flag in row.report.flags))
        lines.append(line)
    return lines


def grades_csv(rows: list[Row]) -> str:
    """The gradebook, every text cell neutralised for spreadsheets (:mod:`autograder.csv_cells`)."""
    buffer = io.StringIO()
    write_csv(buffer, CSV_COLUMNS, csv_rows(rows))
    return buffer.getvalue()


def summarize(rows: list[Row], bins: int = 10, top: int = 10) -> dict[str, Any]:
    """Score distribution over the graded submissions, and the checks failed most often."""
    graded = [row for row in rows if row.status == "graded"]
    scores = [row.report.score for row in graded]
    max_scores = Counter(row.report.max_score for row in graded)
    out_of = max_scores.most_common(1)[0][0] if max_scores else 0.0
    distribution = None
    if scores:
        distribution = {"min": _round(min(scores)), "median": _round(statistics.median(scores)),
                        "max": _round(max(scores)), "mean": _round(statistics.fmean(scores)),
                        "stdev": _round(statistics.pstdev(scores))}
    histogram = []
    for index in range(bins):
        low, high = 100.0 * index / bins, 100.0 * (index + 1) / bins
        count = 0
        for row in graded:
            percent = 100.0 * row.report.score / row.report.max_score if row.report.max_score else 0.0
            if low <= percent < high or (index == bins - 1 and percent >= high):
                count += 1
        histogram.append({"from_percent": _round(low), "to_percent": _round(high), "count": count})
    failed_checks: Counter = Counter()
    check_parts: dict[str, str] = {}
    attempts: Counter = Counter()
    for row in graded:
        for result in row.report.results:
            attempts[result.name] += 1
            check_parts[result.name] = result.part
            if not result.passed:
                failed_checks[result.name] += 1
    order = {tag: index for index, tag in enumerate(PART_TAGS)}
    most_failed = sorted(failed_checks.items(), key=lambda item: (-item[1], order.get(check_parts[item[0]], 99), item[0]))
    parts: dict[str, Any] = {}
    for tag in PART_TAGS:
        got = [row.report.part_scores()[tag] for row in graded if tag in row.report.part_scores()]
        if got:
            parts[tag] = {"mean": _round(statistics.fmean(score for score, _ in got)), "max_score": _round(got[0][1])}
    return {
        "students": len(rows),
        "graded": len(graded),
        "failed": sorted(row.student for row in rows if row.status == "failed"),
        "missing": sorted(row.student for row in rows if row.status == "missing"),
        "flagged": sorted(row.student for row in graded if row.report.flags),
        "max_score": _round(out_of),
        "score": distribution,
        "histogram": histogram,
        "parts": parts,
        "most_failed_checks": [{"check": name, "part": check_parts[name], "failed": count, "of": attempts[name]}
                               for name, count in most_failed[:top]],
        "engine_version": ENGINE_VERSION,
    }


def _round(value: float) -> float:
    return round(float(value), 4)


def summary_text(summary: dict[str, Any]) -> str:
    """The summary for a human: counts, distribution, a text histogram, the most failed checks."""
    lines = [f"Students: {summary['students']}   graded: {summary['graded']}   "
             f"grading failed: {len(summary['failed'])}   missing: {len(summary['missing'])}"]
    score = summary["score"]
    if score:
        lines.append(f"Score out of {_number(summary['max_score'])}: min {_number(score['min'])}, "
                     f"median {_number(score['median'])}, mean {_number(score['mean'])}, max {_number(score['max'])} "
                     f"(stdev {_number(score['stdev'])})")
        lines.append("\nHistogram (percent of the maximum):")
        width = max(bucket["count"] for bucket in summary["histogram"]) or 1
        for bucket in summary["histogram"]:
            closing = "]" if bucket["to_percent"] >= 100 else ")"
            label = f"[{bucket['from_percent']:3.0f}, {bucket['to_percent']:3.0f}{closing}"
            lines.append(f"  {label:12} {bucket['count']:4d} {'#' * round(40 * bucket['count'] / width)}")
    if summary["parts"]:
        lines.append("\nMean per part:")
        lines += [f"  {tag:12} {_number(p['mean'])} / {_number(p['max_score'])}" for tag, p in summary["parts"].items()]
    if summary["most_failed_checks"]:
        lines.append("\nMost failed checks:")
        lines += [f"  {c['failed']:4d} of {c['of']:<4d} {c['check']} ({c['part']})" for c in summary["most_failed_checks"]]
    for key, title in (("failed", "Grading failed (see their results.json flags)"), ("missing", "Nothing to grade"),
                       ("flagged", "Graded with flags")):
        if summary[key]:
            lines.append(f"\n{title}: {', '.join(summary[key])}")
    return "\n".join(lines) + "\n"


def write_outputs(out: Path, rows: list[Row]) -> None:
    """grades.csv, summary.json and summary.txt for the whole folder (graded now or before)."""
    write_atomic(out / "grades.csv", grades_csv(rows))
    summary = summarize(rows)
    write_atomic(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    write_atomic(out / "summary.txt", summary_text(summary))
