"""The fixed-layer checks (test cell test_fixed_encoder) on the other fixtures of tests/submissions/part_b/.

What each fixture must score, and the mistake each failing check must name, is in that folder's
expected.json (made from the engine's grades before the restructuring).  The grader's own pieces
(the wrong-wiring library, parameter matching, the deferred diagnosis) are tested in process.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from part_b_grading import part_b_grader
from verdicts import assert_as_expected

from autograder.checks import ALL_CHECKS, fixed_encoder
from autograder.checks.encoder_cases import CORRECT, LayerCase, reference_result
from autograder.checks.encoder_mistakes import FIRST_FORMS, SECOND_FORMS, DeferredDiagnosis, FunctionalLayer, Wiring
from autograder.probes.fixed_encoder import match_parameters

FOLDER = Path(__file__).parents[1] / "submissions" / "part_b"
FIXTURES = sorted(path.name for path in FOLDER.glob("*.py") if not path.name.startswith("hook_"))


@pytest.fixture(scope="module")
def graded():
    yield from part_b_grader(FOLDER)


def test_every_expectation_has_its_fixture(expected_verdicts):
    listed = sorted(name for name in expected_verdicts("part_b") if not name.startswith("_"))
    assert listed == sorted(path.name for path in FOLDER.glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("name", FIXTURES)
def test_a_fix_fixture_gets_its_expected_grade(graded, expected_verdicts, name):
    assert_as_expected(graded(name, fixed_encoder.PART), expected_verdicts("part_b")[name])


@pytest.mark.slow
def test_grading_is_deterministic(graded):
    """Hypothesis is derandomized and the diagnosis deterministic: the same file gets the same report."""
    name = "fix_residual_after_norm.py"
    assert graded(name, fixed_encoder.PART, again=True).to_json() == graded(name, fixed_encoder.PART).to_json()


def test_the_fixed_layer_checks_are_worth_the_notebooks_points():
    assert sum(entry.points for entry in ALL_CHECKS if entry.test_cell == fixed_encoder.CELL) == 15


@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("form", ["post", "pre"])
def test_the_functional_layer_reproduces_the_reference_layers(form, train):
    """The diagnosis computes wirings as plain functions; its correct ones equal the reference layers."""
    for case in (LayerCase(2, 5, (2, 3), "padded", 11), LayerCase(1, 3, (4, 2), "none", 3)):
        expected = reference_result(form, case, train=train)["output"]
        got = FunctionalLayer(case).output(Wiring(form, form), train=train, seed=case.seed)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_every_wrong_wiring_differs_from_both_correct_ones():
    """Otherwise a wrong fix could pass, or the diagnosis could name a correct layer as a mistake."""
    case = LayerCase(2, 5, (2, 3), "all", 5)
    layer = FunctionalLayer(case)
    correct = [layer.output(Wiring(form, form), train=False, seed=0) for form in CORRECT]
    for swapped in (False, True):
        for first in FIRST_FORMS:
            for second in SECOND_FORMS:
                if not swapped and first == second and first in CORRECT:
                    continue
                got = layer.output(Wiring(first, second, swapped), train=False, seed=0)
                assert all(np.abs(got - right).max() > 1e-3 for right in correct), (first, second, swapped)


def test_parameters_are_matched_by_name_then_by_shape():
    wanted = [("ffn.0.weight", (9, 4)), ("ffn.0.bias", (9,)), ("ffn.2.weight", (4, 9)), ("ffn.2.bias", (4,)),
              ("norm1.weight", (4,))]
    named = [("norm1.weight", (4,)), ("ffn.up.weight", (9, 4)), ("ffn.up.bias", (9,)), ("ffn.down.weight", (4, 9)),
             ("ffn.down.bias", (4,)), ("scale", (1,))]
    mapping, missing, extra = match_parameters(named, wanted)
    assert mapping == {"ffn.0.weight": "ffn.up.weight", "ffn.0.bias": "ffn.up.bias", "ffn.2.weight": "ffn.down.weight",
                       "ffn.2.bias": "ffn.down.bias", "norm1.weight": "norm1.weight"}
    assert missing == [] and extra == ["scale"]


def test_a_failing_diagnosis_still_gives_a_verdict():
    assert "tell the course staff" in str(DeferredDiagnosis(lambda: 1 / 0))


def test_the_notebook_front_door_runs_the_same_checks_on_live_objects():
    """In the instructor's kernel (no worker): the source notebook's own solution cells pass every check."""
    from autograder.assignment import course
    from autograder.notebook import check_namespace

    namespace = course.namespace(course.PART_B_CELLS)
    for grade_id, source in course.cells(("sdpa", "mha", "attention_hook", "fixed_encoder")).items():
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    full_marks = {entry.name: entry.points for entry in ALL_CHECKS if entry.test_cell == fixed_encoder.CELL}
    assert_as_expected(check_namespace(fixed_encoder.CELL, namespace), {"checks": full_marks, "flags": []})
