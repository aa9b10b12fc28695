"""The pieces test_sdpa's checks are made of, in process (no worker): masks, cases, mistakes, the front door."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.checks.cases import SdpaCase
from autograder.checks.masking import MASK_KINDS, make_keep
from autograder.checks.mistakes import SDPA_MISTAKES, sdpa_variant


@pytest.mark.parametrize("kind", MASK_KINDS)
@pytest.mark.parametrize("fully_masked", [False, True])
def test_masks_have_the_notebooks_shapes_and_keep_a_key_per_query_unless_asked(kind, fully_masked):
    rng = np.random.default_rng(0)
    shapes = {"padding": (3, 1, 1, 5), "causal": (4, 5), "causal4d": (1, 1, 4, 5), "full": (3, 2, 4, 5)}
    for _ in range(20):
        keep = make_keep(kind, 3, 2, 4, 5, rng, fully_masked=fully_masked)
        assert keep.shape == shapes[kind] and keep.dtype == bool
        rows = np.broadcast_to(keep, (3, 2, 4, 5)).any(axis=-1)
        assert rows.all() != fully_masked
        assert not keep.all()


def test_no_known_mistake_gives_the_reference():
    """Otherwise the diagnosis could name a correct function's weights as a mistake."""
    case = SdpaCase(2, 2, 3, 4, 4, mask="padding", seed=3)
    _, right = sdpa_variant(case)
    for mistake in SDPA_MISTAKES:
        _, wrong = sdpa_variant(case, mistake)
        assert np.abs(wrong - right).max() > 1e-3, mistake


def test_large_score_cases_are_exact_in_float32():
    """Integer Q and K with d_k in (1, 4, 16): float32 scores equal float64 ones, so tight tolerances stay fair."""
    for head_dim in (1, 4, 16):
        case = SdpaCase(2, 2, 5, 6, head_dim, large=True, seed=head_dim)
        Q, K = (torch.from_numpy(case.arrays[name]) for name in "QK")
        single = (Q @ K.transpose(-2, -1) / np.sqrt(head_dim)).double()
        double = Q.double() @ K.double().transpose(-2, -1) / np.sqrt(head_dim)
        assert torch.equal(single, double) and double.abs().max() > 1000


def notebook_namespace() -> dict:
    from autograder.assignment import course

    namespace: dict = {}
    exec(compile(course.PRELUDE, "<prelude>", "exec"), namespace)
    for grade_id, source in course.cells(("sdpa", "mha")).items():
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    return namespace


def test_the_notebook_front_door_runs_the_same_checks_on_live_objects():
    """In the instructor's kernel (no worker): the source notebook's solution passes every test_sdpa check."""
    from autograder.checks import ALL_CHECKS
    from autograder.notebook import check_namespace

    namespace = notebook_namespace()
    report = check_namespace("test_sdpa", namespace)
    assert report.score == sum(entry.points for entry in ALL_CHECKS if entry.test_cell == "test_sdpa"), report.text()
    assert namespace["scaled_dot_product_attention"].__code__.co_filename == "<sdpa>"   # put back after each check
