"""The grading rule (autograder/grading/scoring.py), one test per numbered rule, and the report following it."""
from __future__ import annotations

import pytest

from autograder.checks.registry import Check
from autograder.errors import CheckFailed, StudentError, WorkerLost
from autograder.grading import scoring
from autograder.grading.engine import run_check
from autograder.grading.report import CheckResult, GradeReport


def a_check(outcome: BaseException | str | None, points: float = 3.0) -> Check:
    def run(student: object) -> str | None:
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome
    return Check(name="example", part="part-a", test_cell="test_sdpa", points=points, function=run)


@pytest.mark.parametrize("outcome", [None, "a note for the student"])
def test_rule_1_a_check_that_returns_scores_all_its_points(outcome):
    result, flag = run_check(a_check(outcome), student=None)
    assert (result.score, result.max_score, flag) == (3.0, 3.0, None)
    assert result.output == (outcome or "")


@pytest.mark.parametrize("failure", [CheckFailed("wrong at index 3"), StudentError("ValueError: boom"),
                                     WorkerLost("time limit of 5 s exceeded")])
def test_rule_1_a_check_that_fails_scores_nothing_and_says_why(failure):
    result, flag = run_check(a_check(failure), student=None)
    assert (result.score, flag) == (0.0, None)
    assert str(failure) in result.output


def test_rule_2_a_grader_bug_scores_nothing_and_flags_the_submission():
    result, flag = run_check(a_check(KeyError("oops")), student=None)
    assert result.score == 0.0
    assert "internal grader error" in result.output and flag and "example" in flag


def test_rule_4_sums_per_group_and_in_all():
    results = [CheckResult("a", "part-a", "test_sdpa", 2.0, 2.0, ""), CheckResult("b", "part-a", "test_sdpa", 0.0, 3.0, ""),
               CheckResult("c", "part-a", "test_mha", 1.0, 1.0, "")]
    report = GradeReport("s.py", "digest", "1", results=results)
    assert report.cell_scores() == {"test_sdpa": (2.0, 5.0), "test_mha": (1.0, 1.0)}
    assert report.part_scores() == {"part-a": (3.0, 6.0)}
    assert (report.score, report.max_score) == (3.0, 6.0)
    assert scoring.total([CheckResult("x", "p", "t", 1 / 3, 1.0, "")] * 3) == (1.0, 3.0)


def test_rule_5_passed_means_all_the_points():
    assert CheckResult("a", "p", "t", 2.0, 2.0, "").passed and not CheckResult("a", "p", "t", 1.0, 2.0, "").passed


@pytest.mark.parametrize("got, out_of, cell_points, recorded", [
    (10.0, 15.0, 15.0, 10.0),   # metadata agrees: the checks' score
    (10.0, 15.0, 30.0, 20.0),   # metadata disagrees: scaled
    (0.0, 0.0, 5.0, 0.0),       # no checks: nothing
    (20.0, 15.0, 15.0, 15.0),   # never more than the cell's points
])
def test_rule_6_what_nbgrader_records(got, out_of, cell_points, recorded):
    assert scoring.recorded_cell_score(got, out_of, cell_points) == pytest.approx(recorded)
