"""Grading a Part B fixture for one part, through the engine (a real worker), without the learning check.

``fixed_layer_learns`` trains a classifier per submission (minutes); it has its own tests
(test_fixed_learning.py) and threshold benchmark, so the hook and fixed-layer tests leave it out.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from autograder.grading import engine
from autograder.grading.report import GradeReport


def part_b_grader(folder: Path) -> Iterator[Callable[..., GradeReport]]:
    """grade(file, part, again=False) -> GradeReport, each (file, part) graded once unless ``again``."""
    reports: dict[tuple[str, str], GradeReport] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "ALL_CHECKS", tuple(entry for entry in engine.ALL_CHECKS
                                                  if entry.name != "fixed_layer_learns"))

        def grade(name: str, part: str, *, again: bool = False) -> GradeReport:
            if again or (name, part) not in reports:
                report = engine.grade_submission(folder / name, parts=[part])
                if again:
                    return report
                reports[(name, part)] = report
            return reports[(name, part)]

        yield grade
