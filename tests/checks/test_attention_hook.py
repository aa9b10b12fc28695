"""The attention-hook checks (test cell test_attention_hook) on the hook_* fixtures of tests/submissions/part_b/.

What each fixture must score, and the mistake each failing check must name, is in that folder's
expected.json (made from the engine's grades before the restructuring).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from part_b_grading import part_b_grader
from verdicts import assert_as_expected

from autograder.checks import ALL_CHECKS, attention_hook

FOLDER = Path(__file__).parents[1] / "submissions" / "part_b"
FIXTURES = sorted(path.name for path in FOLDER.glob("hook_*.py"))


@pytest.fixture(scope="module")
def graded():
    yield from part_b_grader(FOLDER)


@pytest.mark.slow
@pytest.mark.parametrize("name", FIXTURES)
def test_a_hook_fixture_gets_its_expected_grade(graded, expected_verdicts, name):
    assert_as_expected(graded(name, attention_hook.PART), expected_verdicts("part_b")[name])


FORGED = Path(__file__).parents[1] / "submissions" / "forged_hook"


@pytest.fixture(scope="module")
def graded_forgeries():
    yield from part_b_grader(FORGED)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(path.name for path in FORGED.glob("*.py")))
def test_a_forged_hook_earns_only_what_its_code_earns(graded_forgeries, expected_verdicts, name):
    """Claims rewritten by the student's code in the worker (issue 14, item 2) and a reply built to make
    the grader allocate (item 5): the numbers decide, and the forgery is flagged."""
    assert_as_expected(graded_forgeries(name, attention_hook.PART), expected_verdicts("forged_hook")[name])


def test_the_hook_checks_are_worth_the_notebooks_points():
    assert sum(entry.points for entry in ALL_CHECKS if entry.test_cell == attention_hook.CELL) == 10


def test_the_reference_hook_stores_the_last_layers_weights():
    run = attention_hook.reference_run()
    assert run["run"]["lengths"] == [1, 2, 3, 4, 4, 4, 4]
    last = run["layers"][-1]
    for index, item in enumerate(run["run"]["items"]):
        np.testing.assert_array_equal(item["array"], last[index][1])


def test_the_notebook_front_door_runs_the_same_checks_on_live_objects():
    """In the instructor's kernel (no worker): the source notebook's own solution cells pass every check."""
    from autograder.assignment import course
    from autograder.notebook import check_namespace

    namespace = course.namespace(course.PART_B_CELLS)
    for grade_id, source in course.cells(("sdpa", "mha", "attention_hook")).items():
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    full_marks = {entry.name: entry.points for entry in ALL_CHECKS if entry.test_cell == attention_hook.CELL}
    assert_as_expected(check_namespace(attention_hook.CELL, namespace), {"checks": full_marks, "flags": []})
