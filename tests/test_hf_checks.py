"""Part C's checks (compute_metrics, tokenize_fn) on small submissions, graded through the engine.

Each file under ``tests/submissions/part_c/`` holds both functions.  The checks of one function do
not depend on the other, so a wrong file may carry one mistake in each; it must fail exactly the
checks listed for it, with a message that names the mistake, and pass the others.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder.grading import engine
from autograder.checks import hf
from verdicts import assert_verdicts

SUBMISSIONS = Path(__file__).parent / "submissions" / "part_c"
CHECKS = {"compute_metrics_accuracy": 3, "compute_metrics_format": 1, "tokenize_fn_output": 2,
          "tokenize_fn_truncates": 2, "tokenize_fn_keeps_end": 1, "tokenize_fn_batch": 1}
CORRECT = ("reference.py", "ok_alt.py", "ok_padded.py")
# submission: {failing check: text its message must contain}; every other check must pass.
MISTAKES: dict[str, dict[str, str]] = {
    "bad_percentage_no_truncation.py": {"compute_metrics_accuracy": "the accuracy as a percentage",
                                        "tokenize_fn_truncates": "more than MAX_LENGTH = 128"},
    "bad_axis_max_length.py": {"compute_metrics_accuracy": "np.argmax runs over axis 0",
                               "tokenize_fn_truncates": "gives 64 tokens; it should give 128"},
    "bad_ndarray_right_side.py": {"compute_metrics_format": "the accuracy is a numpy.ndarray",
                                 "tokenize_fn_keeps_end": "truncates on the left"},
    "bad_ties_skips_empty.py": {"compute_metrics_accuracy": "ties go to class 1",
                                "compute_metrics_format": "the keys ['accuracy', 'error']",
                                "tokenize_fn_batch": "a batch of 2 texts gave 1 encodings"},
}


@pytest.fixture(scope="module")
def graded():
    reports: dict[str, object] = {}

    def grade(name: str, *, again: bool = False):
        if again or name not in reports:
            report = engine.grade_submission(SUBMISSIONS / name, parts=["part-c"])
            if again:
                return report
            reports[name] = report
        return reports[name]

    return grade


@pytest.mark.parametrize("name", CORRECT)
def test_a_correct_submission_gets_full_marks(graded, name):
    assert_verdicts(graded(name), CHECKS, {}, test_cell="test_partc")


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistake_loses_the_checks_that_name_it(graded, name):
    assert_verdicts(graded(name), CHECKS, MISTAKES[name], test_cell="test_partc")


def test_grading_is_deterministic(graded):
    assert graded("bad_axis_max_length.py", again=True).to_json() == graded("bad_axis_max_length.py").to_json()


def test_the_points_are_the_notebooks():
    from autograder.checks import ALL_CHECKS

    assert {entry.name: entry.points for entry in ALL_CHECKS if entry.part == "part-c"} == CHECKS
    assert sum(CHECKS.values()) == 10


# ---------------------------------------------------------------------------------------------
# The grader's own pieces, in process (no worker)

def test_the_grading_tokenizer_is_set_up_as_the_notebook_sets_it_up():
    from autograder.assignment.offline_model import offline_tokenizer

    tokenizer = offline_tokenizer()
    assert tokenizer.truncation_side == "left"
    text = hf.review(300, 1)
    full, kept = hf.full_ids(text), hf.expected_ids(text)
    assert len(full) > hf.MAX_LENGTH == len(kept)
    assert kept[-20:] == full[-20:] and kept[1:21] != full[1:21]


def test_padding_is_ignored_whichever_way_it_is_marked():
    pad = hf.offline_tokenizer().pad_token_id
    got = {"input_ids": [[101, 7, 102, pad, pad], [pad, 101, 8, 102]], "attention_mask": [[1, 1, 1, 0, 0], [0, 1, 1, 1]]}
    assert hf.unpadded(got, 0) == [101, 7, 102] and hf.unpadded(got, 1) == [101, 8, 102]
    got["attention_mask"] = None
    assert hf.unpadded(got, 0) == [101, 7, 102] and hf.unpadded(got, 1) == [101, 8, 102]


def test_known_mistakes_are_told_apart_on_a_larger_case():
    case = hf.MetricsCase(logits=((0.0, 1.0), (2.0, 0.0), (0.5, 0.5), (1.0, -1.0)), labels=(1, 0, 1, 1))
    assert case.expected == 0.5
    values = [value for value, _ in hf._known_mistakes(case)]
    assert values[0] == 50.0 and values[-1] == 0.5 and values[-2] == 0.75


def test_the_notebook_front_door_runs_the_same_checks_on_live_objects():
    """In the instructor's kernel (no worker): the source notebook's solution cells pass every Part C check."""
    from autograder.assignment import course
    from autograder.notebook import check_namespace
    from autograder.assignment.course import PRELUDE

    namespace: dict = {}
    exec(compile(PRELUDE + course.PART_C_SETUP, "<setup>", "exec"), namespace)
    for grade_id, source in course.cells(("tokenize_fn", "compute_metrics")).items():
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    report = check_namespace("test_partc", namespace)
    assert report.score == 10, report.text()
    assert np.isclose(report.max_score, 10)
