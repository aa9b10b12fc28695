"""Nothing to borrow (issue 14, item 4): the worker grading the student's attention holds no correct one.

The MHA checks' worker has the notebook's attention formula (to tell an MHA mistake from an
attention one); a ``scaled_dot_product_attention`` that only forwards to some attention the worker
holds must earn nothing, since in Jupyter it raises.
"""
from __future__ import annotations

import pytest

from autograder.assignment.parts import PARTS_BY_TAG
from autograder.grading.engine import grade_submission
from autograder.sandbox.limits import Limits

LIMITS = Limits(call_seconds=10, load_seconds=45, memory_bytes=3 * 2**29)


def test_part_a_workers_serve_one_test_cell_each():
    assert PARTS_BY_TAG["part-a"].workers() == (("test_sdpa",), ("test_mha",))


@pytest.mark.parametrize("name", ["borrow_via_sys_modules.py", "borrow_via_gc.py"])
def test_attention_cannot_be_borrowed(name, submissions, expected_verdicts):
    report = grade_submission(submissions / "borrowing" / name, limits=LIMITS, parts=["part-a"])
    got = {cell: score for cell, (score, _) in report.cell_scores().items()}
    assert got == expected_verdicts("borrowing")[name], report.text()
