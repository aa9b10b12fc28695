"""The engine's overall time budget per submission (issue 14, item 6), with a short budget.

A submission that stalls only while graded (each call well under its own limit) must finish within
the budget, score 0 on what was not run, and be flagged; an honest one with the same budget is
untouched.
"""
from __future__ import annotations

import time

import pytest

from autograder.grading.engine import BUDGET_FLAG, grade_submission
from autograder.sandbox.limits import Limits

BUDGET = 25.0
LIMITS = Limits(submission_seconds=BUDGET, call_seconds=5, load_seconds=45, memory_bytes=3 * 2**29)
SLACK = 15.0  # closing workers, the last check's own bookkeeping


@pytest.mark.parametrize("name", ["honest.py", "stall_when_graded.py"])
def test_budget_bounds_a_submission(name, submissions, expected_verdicts):
    expected = expected_verdicts("budget")[name]
    started = time.monotonic()
    report = grade_submission(submissions / "budget" / name, limits=LIMITS, parts=["part-a"])
    elapsed = time.monotonic() - started
    assert elapsed < BUDGET + SLACK
    budget_flags = [flag for flag in report.flags if flag.startswith(BUDGET_FLAG)]
    if expected.get("budget_flag"):
        assert len(budget_flags) == 1, report.flags
        assert report.score < expected["score_below"]
        first_unrun = next(i for i, result in enumerate(report.results) if "budget" in result.output)
        assert all(result.score == 0 and "budget" in result.output for result in report.results[first_unrun:])
    else:
        assert report.score == expected["score"], report.text()
        assert report.flags == expected["flags"]
