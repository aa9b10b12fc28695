"""Writing the batch's files so that an interrupted run never leaves half a file behind."""
from __future__ import annotations

import os
from pathlib import Path

from autograder.grading.report import GradeReport


def save_report(out: Path, student: str, report: GradeReport) -> None:
    (out / student).mkdir(parents=True, exist_ok=True)
    write_atomic(out / student / "results.json", report.to_json() + "\n")


def write_atomic(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
