"""The learning check (test cell test_fixed_learning): the classifier trains with a correct fixed layer only.

Each file is graded for ``fixed_layer_learns`` alone (a real training run in a worker, tens of
seconds); what it must give is under ``_fixed_layer_learns`` in tests/submissions/part_b/expected.json.
The threshold itself is benchmarks/learning_threshold.py's.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from verdicts import assert_as_expected

from autograder.checks import ALL_CHECKS, fixed_learning
from autograder.grading import engine

FOLDER = Path(__file__).parents[1] / "submissions" / "part_b"
LEARNS = fixed_learning.fixed_layer_learns
EXPECTED = json.loads((FOLDER / "expected.json").read_text())["_fixed_layer_learns"]
FIXTURES = sorted(name for name in EXPECTED if not name.startswith("_"))


def test_the_learning_check_is_registered():
    assert LEARNS in ALL_CHECKS and LEARNS.test_cell == "test_fixed_learning"


@pytest.mark.slow
@pytest.mark.parametrize("name", FIXTURES)
def test_only_a_correct_fix_learns(monkeypatch, name):
    monkeypatch.setattr(engine, "ALL_CHECKS", (LEARNS,))
    report = engine.grade_submission(FOLDER / name, parts=[LEARNS.part])
    assert_as_expected(report, EXPECTED[name])
