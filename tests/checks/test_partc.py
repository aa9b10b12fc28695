"""Part C's checks (test cell test_partc: compute_metrics, tokenize_fn) on the fixtures of tests/submissions/part_c/.

Each fixture holds both functions; the checks of one do not depend on the other, so a wrong file
may carry one mistake in each.  What each must score, and the mistake each failing check must
name, is in that folder's expected.json (made from the engine's grades before the restructuring).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from verdicts import assert_as_expected

from autograder.assignment.offline_model import offline_tokenizer
from autograder.checks import ALL_CHECKS, partc
from autograder.grading import engine

FOLDER = Path(__file__).parents[1] / "submissions" / "part_c"
FIXTURES = sorted(path.name for path in FOLDER.glob("*.py"))


@pytest.fixture(scope="module")
def graded():
    reports: dict[str, object] = {}

    def grade(name: str, *, again: bool = False):
        if again or name not in reports:
            report = engine.grade_submission(FOLDER / name, parts=[partc.PART])
            if again:
                return report
            reports[name] = report
        return reports[name]

    return grade


def test_every_expectation_has_its_fixture(expected_verdicts):
    assert sorted(name for name in expected_verdicts("part_c") if not name.startswith("_")) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_a_fixture_gets_its_expected_grade(graded, expected_verdicts, name):
    assert_as_expected(graded(name), expected_verdicts("part_c")[name])


def test_grading_is_deterministic(graded):
    assert graded("bad_axis_max_length.py", again=True).to_json() == graded("bad_axis_max_length.py").to_json()


def test_the_points_are_the_notebooks():
    assert sum(entry.points for entry in ALL_CHECKS if entry.part == partc.PART) == 10


# ---------------------------------------------------------------------------------------------
# The grader's own pieces, in process (no worker)

def test_the_grading_tokenizer_is_set_up_as_the_notebook_sets_it_up():
    tokenizer = offline_tokenizer()
    assert tokenizer.truncation_side == "left"
    text = partc.review(300, 1)
    full, kept = partc.full_ids(text), partc.expected_ids(text)
    assert len(full) > partc.MAX_LENGTH == len(kept)
    assert kept[-20:] == full[-20:] and kept[1:21] != full[1:21]


def test_padding_is_ignored_whichever_way_it_is_marked():
    pad = offline_tokenizer().pad_token_id
    got = {"input_ids": [[101, 7, 102, pad, pad], [pad, 101, 8, 102]],
           "attention_mask": [[1, 1, 1, 0, 0], [0, 1, 1, 1]]}
    assert partc.unpadded(got, 0) == [101, 7, 102] and partc.unpadded(got, 1) == [101, 8, 102]
    got["attention_mask"] = None
    assert partc.unpadded(got, 0) == [101, 7, 102] and partc.unpadded(got, 1) == [101, 8, 102]


def test_known_mistakes_are_told_apart_on_a_larger_case():
    case = partc.MetricsCase(logits=((0.0, 1.0), (2.0, 0.0), (0.2, 0.5), (1.0, -1.0)), labels=(1, 0, 1, 1))
    assert case.expected == 0.75
    values = [value for value, _ in partc.known_mistakes(case)]
    assert values[0] == 75.0 and values[-1] == 0.25


def test_no_case_has_a_tie_the_notebook_does_not_say_how_to_break():
    @settings(max_examples=200, database=None, suppress_health_check=list(HealthCheck))
    @given(partc.metrics_cases)
    def no_ties(case: partc.MetricsCase) -> None:
        logits, _ = case.arrays
        assert (logits[:, 0] != logits[:, 1]).all()

    no_ties()


def test_the_notebook_front_door_runs_the_same_checks_on_live_objects():
    """In the instructor's kernel (no worker): the source notebook's solution cells pass every Part C check."""
    from autograder.assignment import course
    from autograder.notebook import check_namespace

    namespace: dict = {}
    exec(compile(course.PRELUDE + course.PART_C_SETUP, "<setup>", "exec"), namespace)
    for grade_id, source in course.cells(("tokenize_fn", "compute_metrics")).items():
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    full_marks = {entry.name: entry.points for entry in ALL_CHECKS if entry.part == partc.PART}
    assert_as_expected(check_namespace(partc.CELL, namespace), {"checks": full_marks, "flags": []})
