"""What was graded, with which content, engine version, parts and grader: a re-run skips what is unchanged."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autograder import ENGINE_VERSION
from autograder.batch.files import write_atomic
from autograder.grading.report import GradeReport

MANIFEST_FORMAT = 1


def load_manifest(out: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return {}
    submissions = data.get("submissions")
    return submissions if isinstance(submissions, dict) else {}


def save_manifest(out: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Written after every submission (atomically), so an interrupted batch resumes where it stopped."""
    data = {"format": MANIFEST_FORMAT, "submissions": {name: entries[name] for name in sorted(entries)}}
    write_atomic(out / "manifest.json", json.dumps(data, indent=2, sort_keys=True) + "\n")


def reuse(out: Path, student: str, previous: dict[str, Any] | None, entry: dict[str, Any]) -> GradeReport | None:
    """The earlier report if it graded this very content with this engine, parts and grader; else None."""
    if not previous or previous.get("status") != "graded":
        return None
    if any(previous.get(key) != value for key, value in entry.items()):
        return None
    try:
        report = GradeReport.from_gradescope(json.loads((out / student / "results.json").read_text()))
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    if report.digest != entry["digest"] or report.engine_version != ENGINE_VERSION:
        return None
    return report
