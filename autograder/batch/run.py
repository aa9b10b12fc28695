"""``grade-all``: grade every submission of a folder into OUTDIR, skipping those graded before unchanged."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import ENGINE_VERSION
from autograder.batch.discover import discover
from autograder.batch.files import save_report
from autograder.batch.isolate import DEFAULT_GRADER, DEFAULT_TIMEOUT, Outcome, Task
from autograder.batch.manifest import load_manifest, reuse, save_manifest
from autograder.batch.outputs import PART_TAGS, Row, write_outputs
from autograder.batch.schedule import run_locally, run_on_dask
from autograder.grading import scoring
from autograder.grading.report import CheckResult, GradeReport
from autograder.sandbox.limits import Limits


@dataclass
class BatchResult:
    rows: list[Row]
    out: Path
    graded: int = 0
    reused: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[Row]:
        return [row for row in self.rows if row.status == "failed"]


def wanted_parts(parts: Iterable[str] | None) -> list[str]:
    """The part tags a run grades, in the assignment's order."""
    chosen = set(parts) if parts else set(PART_TAGS)
    unknown = chosen - set(PART_TAGS)
    if unknown:
        raise ValueError(f"unknown parts: {', '.join(sorted(unknown))}")
    return [tag for tag in PART_TAGS if tag in chosen]


def grade_all(submitted: str | Path, out: str | Path, *, jobs: int | None = None, scheduler: str | None = None,
              parts: Iterable[str] | None = None, timeout: float = DEFAULT_TIMEOUT, assignment: str | None = None,
              limits: Limits | None = None, grader: str = DEFAULT_GRADER, progress: bool = True,
              how: str = "auto", similarity: bool = False, class_report: bool = False) -> BatchResult:
    """Grade every submission under ``submitted`` into ``out``; skip those graded before unchanged.

    ``jobs`` grading processes run at once on this machine (default: one per CPU), or the
    tasks go to the Dask scheduler at ``scheduler``.  A submission whose grading fails in
    any way gets a zero row with a flag saying why; the others are not affected.  Fewer jobs
    than CPUs leave cores idle: then each grading runs its learning check beside the rest.
    """
    started = time.monotonic()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tags = wanted_parts(parts)
    parts_arg = None if tags == list(PART_TAGS) else tuple(tags)
    limits_dict = dataclasses.asdict(limits) if limits else None
    manifest = load_manifest(out)
    entries: dict[str, dict[str, Any]] = {}
    rows: dict[str, Row] = {}
    tasks: list[Task] = []
    jobs = jobs or os.cpu_count() or 1
    concurrent = scheduler is None and jobs < len(os.sched_getaffinity(0))
    sys_path = tuple(sys.path) if grader != DEFAULT_GRADER else ()  # so that a grader of one's own can be imported
    found_all = discover(submitted, assignment, exclude=out)
    for found in found_all:
        if found.path is None:
            report = failure_report("", "", list(found.problems), tags)
            rows[found.student] = Row(found.student, "", "missing", report)
            entries[found.student] = {"file": found.relative, "status": "missing"}
            save_report(out, found.student, report)
            continue
        content = found.path.read_bytes()
        entry = {"file": found.relative, "digest": hashlib.sha256(content).hexdigest(), "engine_version": ENGINE_VERSION,
                 "parts": tags, "grader": grader, "limits": limits_dict, "problems": list(found.problems)}
        previous = reuse(out, found.student, manifest.get(found.student), entry)
        if previous is not None:
            rows[found.student] = Row(found.student, found.relative, "graded", previous, reused=True)
            entries[found.student] = dict(entry, status="graded")
            continue
        entries[found.student] = dict(entry, status="pending")
        tasks.append(Task(found.student, found.path.name, content, parts_arg, grader, limits_dict, sys_path, concurrent))
    save_manifest(out, entries)  # students gone from the folder leave the manifest now

    relative = {name: entry["file"] for name, entry in entries.items()}

    def finish(task: Task, outcome: Outcome) -> Row:
        entry = entries[task.student]
        problems = list(entry["problems"])
        report = None
        if outcome.report_json is not None:
            try:
                report = GradeReport.from_gradescope(json.loads(outcome.report_json))
            except (ValueError, KeyError, IndexError, TypeError) as exc:
                outcome = Outcome(task.student, failure=f"the grader's report could not be read ({type(exc).__name__})")
        if report is not None:
            report.flags[:0] = problems
            status = "graded"
        else:
            report = failure_report(task.filename, entry["digest"], [*problems, f"grading failed: {outcome.failure}"], tags)
            status = "failed"
        save_report(out, task.student, report)
        entries[task.student]["status"] = status
        save_manifest(out, entries)
        row = Row(task.student, relative[task.student], status, report)
        rows[task.student] = row
        return row

    reused = len(rows) - sum(1 for row in rows.values() if row.status == "missing")
    if tasks:
        from tqdm import tqdm

        bar = tqdm(total=len(tasks), desc="grading", unit="submission", disable=not progress, mininterval=0.5,
                   dynamic_ncols=True, file=sys.stderr)
        bar.set_postfix_str(f"{reused} unchanged skipped" if reused else "")
        runs = (run_on_dask(tasks, scheduler, timeout) if scheduler else
                run_locally(tasks, jobs, timeout, how))
        try:
            for task, outcome in runs:
                row = finish(task, outcome)
                if row.status == "failed":
                    bar.write(f"{row.student}: {row.report.flags[-1]}")
                bar.update(1)
        finally:
            runs.close()  # on Ctrl-C: stop the grading processes still running
            bar.close()
    if similarity:  # flags in grades.csv and the report, never in results.json: points never change
        from autograder.reporting.similarity import similar_pairs, similarity_flags

        extra = similarity_flags(similar_pairs({f.student: f.path for f in found_all if f.path is not None}))
        for name, row in rows.items():
            row.report.flags += [flag for flag in extra.get(name, []) if flag not in row.report.flags]
    ordered = [rows[name] for name in sorted(rows)]
    write_outputs(out, ordered)
    if class_report:
        from autograder.reporting.class_report import write_report

        try:
            write_report(out, out / "report.html")
        except Exception as exc:  # the grades are written; a report that fails must not hide them
            print(f"grade-all: the class report could not be written ({type(exc).__name__}: {exc})", file=sys.stderr)
    return BatchResult(ordered, out, graded=len(tasks), reused=reused, seconds=time.monotonic() - started)


def failure_report(submission: str, digest: str, flags: list[str], tags: list[str]) -> GradeReport:
    """A zero for every check of the graded parts; the last flag (why) is each check's output."""
    from autograder.checks import ALL_CHECKS

    report = GradeReport(submission=submission, digest=digest, engine_version=ENGINE_VERSION, flags=list(flags))
    output = flags[-1] if flags else "not graded"
    report.results = [CheckResult(entry.name, entry.part, entry.test_cell, scoring.check_score(entry.points, passed=False),
                                  float(entry.points), output)
                      for entry in ALL_CHECKS if entry.part in tags]
    return report
