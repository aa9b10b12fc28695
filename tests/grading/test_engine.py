"""The engine: its overall time budget per submission, and the learning run graded beside the rest.

A submission that stalls only while graded (each call well under its own limit) must finish within
the budget, score 0 on what was not run, and be flagged; an honest one with the same budget is
untouched (issue 14, item 6).  With ``concurrent`` the learning check runs at the same time as Part
A's checks, and the report is the same to the byte as when every worker runs in turn (issue 16).
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from autograder.grading import engine
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


@pytest.mark.slow
@pytest.mark.parametrize("student", ["alice", "carol"])
def test_the_learning_run_is_graded_beside_the_rest_and_changes_nothing(student, monkeypatch):
    path = Path(__file__).parents[2] / "samples" / "submitted" / student / "transformer" / "transformer.ipynb"
    spans: dict[str, tuple[float, float]] = {}
    run_check = engine.run_check

    def timed(check, *args, **kwargs):
        started = time.monotonic()
        try:
            return run_check(check, *args, **kwargs)
        finally:
            spans[check.name] = (started, time.monotonic())

    def learning_overlaps_part_a() -> bool:
        began, ended = spans.pop("fixed_layer_learns")
        return any(start < ended and began < end for name, (start, end) in spans.items() if name.startswith("sdpa_"))

    monkeypatch.setattr(engine, "run_check", timed)
    in_turn = grade_submission(path, concurrent=False)
    assert not learning_overlaps_part_a()
    beside = grade_submission(path, concurrent=True)
    assert learning_overlaps_part_a()
    assert beside.to_json() == in_turn.to_json()
