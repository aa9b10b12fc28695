"""What ``run_autograder`` does on Gradescope: grade ``ROOT/submission/*.ipynb`` into ``ROOT/results/results.json``.

Gradescope shows results.json to the student and nothing else (stdout stays hidden), so every way
this can go wrong (no notebook, several, one that cannot be read, a grader bug) still ends in a
results.json with score 0 and a sentence saying what to do, never a traceback.
"""
from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from autograder.grading import scoring
from autograder.grading.report import GradeReport

DEFAULT_ROOT = "/autograder"
ROOT_VARIABLE = "AUTOGRADER_ROOT"       # where Gradescope's layout is; the tests point it at a temporary folder
VISIBILITY_VARIABLE = "AUTOGRADER_VISIBILITY"
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")  # what Gradescope accepts
IGNORED_PARTS = ("__MACOSX",)            # what archivers add next to the student's files


def layout_root() -> Path:
    return Path(os.environ.get(ROOT_VARIABLE) or DEFAULT_ROOT)


def visibility() -> str:
    """The tests' visibility the instructor chose (``AUTOGRADER_VISIBILITY``), ``visible`` by default."""
    chosen = os.environ.get(VISIBILITY_VARIABLE, "visible")
    return chosen if chosen in VISIBILITIES else "visible"


def find_submission(folder: Path) -> tuple[Path | None, str]:
    """The one notebook in ``folder`` (searched through, as an uploaded zip keeps its folders), or why not."""
    found = sorted(path for path in folder.rglob("*.ipynb") if not any(
        part.startswith(".") or part in IGNORED_PARTS for part in path.relative_to(folder).parts))
    if not found:
        uploaded = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())
        seen = f" (your upload has: {', '.join(uploaded[:10])})" if uploaded else " (your upload is empty)"
        return None, f"No notebook (.ipynb) found in your submission{seen}. Upload your transformer.ipynb."
    if len(found) > 1:
        names = ", ".join(path.relative_to(folder).as_posix() for path in found)
        return None, f"Your submission has {len(found)} notebooks ({names}); upload exactly one, your transformer.ipynb."
    path = found[0]
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        return None, f"Your notebook {path.name} could not be read ({exc.strerror or exc}); upload it again."
    return path, ""


def summary(report: GradeReport) -> str:
    """The results page's top text: the points per part, the notes, and the flags a person will look at."""
    lines = [f"Automatic points: {report.score:g} / {report.max_score:g} (written answers are graded by hand)"]
    lines += [f"  {part}: {got:g} / {out_of:g}" for part, (got, out_of) in report.part_scores().items()]
    notes = [f"  {part}: {note}" for part, part_notes in report.notes.items() for note in part_notes]
    if notes:
        lines += ["", "Notes:", *notes]
    if report.flags:
        lines += ["", "Flagged for the course staff to look at (a flag by itself changes no points):"]
        lines += [f"  - {flag}" for flag in report.flags]
    return "\n".join(lines)


def results_of(report: GradeReport) -> dict[str, Any]:
    """Gradescope's results.json for a report: its own ``to_gradescope()`` plus what Gradescope
    reads besides (each test's visibility and status, the top text with the flags)."""
    results = report.to_gradescope()
    shown = visibility()
    for test in results["tests"]:
        test["visibility"] = shown
        test["status"] = "passed" if scoring.has_passed(test["score"], test["max_score"]) else "failed"
    results.update(output=summary(report), visibility=shown, stdout_visibility="hidden")
    return results


def failure(message: str) -> dict[str, Any]:
    """The results.json of a submission that could not be graded: score 0 and why."""
    return {"score": 0.0, "output": message, "tests": [], "visibility": "visible", "stdout_visibility": "hidden"}


def grade(root: Path, parts: Iterable[str] | None = None) -> dict[str, Any]:
    """Grade the submission in Gradescope's layout under ``root``; the results, whatever happens."""
    path, problem = find_submission(root / "submission")
    if path is None:
        return failure(problem)
    try:
        from autograder.grading.engine import grade_submission  # here: finding the file needs no torch

        return results_of(grade_submission(path, parts=parts))
    except Exception as exc:  # a grader bug: the student gets a sentence, the staff the traceback (stderr)
        traceback.print_exc(file=sys.stderr)
        return failure(f"The autograder could not grade your notebook (internal error: {type(exc).__name__}). "
                       "This is not your fault; tell the course staff.")


def write_results(root: Path, results: dict[str, Any]) -> Path:
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    partial.replace(out)
    return out
