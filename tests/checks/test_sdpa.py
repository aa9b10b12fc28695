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


def test_far_score_cases_are_exact_in_float32_and_below_the_mildest_fill():
    """Every score of a far case is exact in float32 and at most -1e4, so a -1e4 fill would not mask."""
    case = SdpaCase(2, 2, 5, 6, 16, mask="padding", far=True, seed=5)
    Q, K = (torch.from_numpy(case.arrays[name]) for name in "QK")
    single = (Q @ K.transpose(-2, -1) / 4.0).double()
    assert torch.equal(single, Q.double() @ K.double().transpose(-2, -1) / 4.0) and single.max() <= -1e4


def test_a_fill_of_minus_1e4_fails_the_far_scores_and_minus_1e9_does_not():
    from autograder.checks.sdpa import sdpa_numerically_stable
    from autograder.errors import CheckFailed

    sdpa_numerically_stable.run(live_student(SDPA_WITH.format(fill="scores.masked_fill(mask == 0, -1e9)")))
    with pytest.raises(CheckFailed, match="not low enough"):
        sdpa_numerically_stable.run(live_student(SDPA_WITH.format(fill="scores.masked_fill(mask == 0, -1e4)")))


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


def live_student(source: str):
    """A Student over a namespace running ``source`` (the prelude first), as the notebook front door does."""
    from autograder.assignment import course
    from autograder.notebook import LocalStudent

    namespace: dict = {}
    exec(compile(course.PRELUDE, "<prelude>", "exec"), namespace)
    exec(compile(source, "<student>", "exec"), namespace)
    return LocalStudent(namespace)


SDPA_WITH = '''
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = {fill}
    weights = torch.softmax(scores, dim=-1)
    return weights @ V, weights
'''


@pytest.mark.parametrize(("fill", "passes"), [
    ("scores.masked_fill(mask == 0, -1e9)", True),
    ("torch.where(mask != 0, scores, torch.finfo(scores.dtype).min)", True),
    ("scores + (mask == 0) * -1e9", False),
    ("scores + (1 - mask.float()) * -1e9", False),
    ("scores.masked_fill(mask == 0, float('-inf'))", False),
])
def test_a_fully_masked_row_is_judged_by_the_notebooks_replacement_of_scores(fill, passes):
    """Replacing masked scores by -1e9 (or finfo.min) passes; adding -1e9 (an additive mask) or a -inf fill fails."""
    from autograder.checks.sdpa import sdpa_fully_masked_rows
    from autograder.errors import CheckFailed

    student = live_student(SDPA_WITH.format(fill=fill))
    if passes:
        sdpa_fully_masked_rows.run(student)
    else:
        with pytest.raises(CheckFailed, match="additive mask|NaN or inf"):
            sdpa_fully_masked_rows.run(student)


def test_detached_weights_keep_the_gradient_point_but_a_detached_output_does_not():
    from autograder.checks.sdpa import sdpa_gradients
    from autograder.errors import CheckFailed

    right = SDPA_WITH.format(fill="scores.masked_fill(mask == 0, -1e9)")
    sdpa_gradients.run(live_student(right.replace("return weights @ V, weights", "return weights @ V, weights.detach()")))
    with pytest.raises(CheckFailed, match="through the output you return"):
        sdpa_gradients.run(live_student(right.replace("return weights @ V, weights", "return (weights @ V).detach(), weights")))


@pytest.mark.parametrize(("dim", "named"), [(1, "dim=1 (the heads axis"), (2, "dim=2 (the query axis"),
                                            (0, "dim=0 (the batch axis")])
def test_a_softmax_over_another_axis_is_named_by_the_axis_it_used(dim, named):
    from autograder.checks.mistakes import diagnose_sdpa

    case = SdpaCase(2, 3, 4, 5, 4, seed=1)
    scores = torch.from_numpy(case.arrays["Q"]).double() @ torch.from_numpy(case.arrays["K"]).double().transpose(-2, -1)
    words = diagnose_sdpa(case, torch.softmax(scores / 2.0, dim=dim).numpy())
    others = [axis for axis in ("query", "heads", "batch") if f"the {axis} axis" not in named]
    assert named in words and not any(f"the {axis} axis" in words for axis in others), words


def test_a_mismatch_says_expected_and_got_with_a_verb_that_agrees():
    from autograder.checks.compare import describe_mismatch

    plural = describe_mismatch("the attention weights", np.ones(3), np.array([1.0, 0.5, 1.0]))
    singular = describe_mismatch("the gradient with respect to W_q.bias", np.ones(2), np.zeros(2))
    assert plural.startswith("the attention weights differ from") and "expected 1, got 0.5" in plural
    assert singular.startswith("the gradient with respect to W_q.bias differs from")
