"""The pieces test_mha's checks are made of, in process (no worker): mistakes, reference, the front door."""
from __future__ import annotations

import numpy as np
from test_sdpa import notebook_namespace

from autograder.checks.cases import MhaCase, mha_expected
from autograder.checks.mistakes import MHA_MISTAKES, mha_variant


def test_no_known_mistake_gives_the_reference_and_the_variant_without_one_does():
    case = MhaCase(2, 3, 2, 2, mask="padding", seed=4)
    expected = mha_expected(case)
    for options, _ in MHA_MISTAKES:
        context, weights = mha_variant(case, **options)
        assert max(np.abs(context - expected["context"]).max(), np.abs(weights - expected["weights"]).max()) > 1e-3
    context, weights = mha_variant(case)
    np.testing.assert_allclose(context, expected["context"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights, expected["weights"], rtol=1e-12, atol=1e-12)


def test_the_notebook_front_door_runs_the_same_checks_on_live_objects():
    """In the instructor's kernel (no worker): the source notebook's solution passes every test_mha check."""
    from autograder.checks import ALL_CHECKS
    from autograder.notebook import check_namespace

    report = check_namespace("test_mha", notebook_namespace())
    assert report.score == sum(entry.points for entry in ALL_CHECKS if entry.test_cell == "test_mha"), report.text()
