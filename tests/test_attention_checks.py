"""Part A's behaviour checks (scaled_dot_product_attention, MultiHeadAttention) on small submissions.

Each file under ``tests/submissions/part_a/`` is graded once through the engine (a real worker,
Part A only).  A correct one, however it is written, must pass every check; a one-mistake one must
fail exactly the checks listed for it, each with a message that names the mistake, and pass the
others (a mistake in the function costs no test_mha points: the module is judged with the
notebook's attention standing in for the student's when theirs is wrong).
"""
from __future__ import annotations

import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch

from autograder.grading import engine
from autograder.checks import attention
from verdicts import assert_verdicts

SUBMISSIONS = Path(__file__).parent / "submissions" / "part_a"
SDPA_CHECKS = {"sdpa_shapes": 2, "sdpa_weights_distribution": 2, "sdpa_values": 3, "sdpa_mask": 3,
               "sdpa_mask_dtypes": 1, "sdpa_fully_masked_rows": 1, "sdpa_numerically_stable": 1,
               "sdpa_gradients": 1, "sdpa_inputs_unchanged": 1}
MHA_CHECKS = {"mha_shapes": 2, "mha_weights_distribution": 1, "mha_attention_weights": 3, "mha_context": 3,
              "mha_mask": 2, "mha_gradients": 2, "mha_any_shape": 1, "mha_inputs_unchanged": 1}
CHECKS = {**SDPA_CHECKS, **MHA_CHECKS}

CORRECT = sorted(path.name for path in SUBMISSIONS.glob("ok_*.py")) + ["reference.py"]

# submission: {failing check: text its message must contain}; every other check must pass.
MISTAKES: dict[str, dict[str, str]] = {
    "bad_scale_dk.py": {"sdpa_values": "the scores are divided by d_k instead of sqrt(d_k)"},
    "bad_no_scale.py": {"sdpa_values": "the scores Q K^T are not divided by sqrt(d_k)"},
    "bad_mask_inverted.py": {check: "the mask is inverted" for check in ("sdpa_mask", "sdpa_mask_dtypes")},
    "bad_mask_ignored.py": {check: "the mask is ignored" for check in ("sdpa_mask", "sdpa_mask_dtypes")},
    "bad_masked_fill_zero.py": {check: "masked scores are set to 0 instead of -1e9"
                                for check in ("sdpa_mask", "sdpa_mask_dtypes")},
    "bad_bool_only_mask.py": {"sdpa_mask_dtypes": "test `mask == 0`"},
    "bad_wrong_axis.py": {check: "the softmax runs over the query axis (dim=-2)"
                          for check in ("sdpa_weights_distribution", "sdpa_values", "sdpa_mask", "sdpa_mask_dtypes")},
    "bad_before_softmax.py": {check: "these are the scores before the softmax"
                              for check in ("sdpa_weights_distribution", "sdpa_values")},
    "bad_mask_after_softmax.py": {**{check: "the masked weights are set to 0 after the softmax"
                                     for check in ("sdpa_weights_distribution", "sdpa_mask", "sdpa_mask_dtypes")},
                                  "sdpa_fully_masked_rows": "its weights are uniform"},
    "bad_neg_inf.py": {"sdpa_fully_masked_rows": "contain NaN or inf where every key of a query is masked"},
    "bad_inplace_q.py": {"sdpa_inputs_unchanged": "changed its argument Q in place"},
    "bad_detached.py": {"sdpa_gradients": "no gradient can flow back through the output you return"},
    "bad_float64.py": {"sdpa_shapes": "has dtype float64"},
    "bad_output_only.py": {check: "should return a pair (output, attention_weights)" for check in SDPA_CHECKS},
    "bad_no_w_o.py": {"mha_context": "W_o is not applied to the merged heads"},
    "bad_merge_no_transpose.py": {"mha_context": "merged with .view(batch, seq_len, embed_dim) straight from"},
    "bad_split_no_transpose.py": {check: "split with .view(batch, num_heads, seq_len, head_dim) and merged"
                                  for check in ("mha_attention_weights", "mha_context")},
    "bad_scale_embed.py": {check: "divided by sqrt(embed_dim) instead of sqrt(head_dim)"
                           for check in ("mha_attention_weights", "mha_context")},
    "bad_mask_not_passed.py": {"mha_mask": "the mask does not reach the attention"},
    "bad_keeps_sizes.py": {"mha_any_shape": "called in turn on x of shapes"},
    "bad_fused_data.py": {"mha_gradients": "no gradient reaches W_q.weight, W_q.bias, W_k.weight"},
}
AGAIN = ("reference.py", "bad_split_no_transpose.py")     # graded twice: the JSON must be identical
# A wrong function, a right module: the module's checks pass with the notebook's attention instead.
FALLBACK = ("bad_output_only.py", "bad_float64.py", "bad_before_softmax.py", "bad_wrong_axis.py")


@pytest.fixture(scope="module")
def graded():
    """grade(file) -> GradeReport (Part A only), every file graded once, two at a time in child processes.

    Each grade starts its own worker; in two processes the whole module takes about half as long.
    """
    grade_part_a = functools.partial(engine.grade_submission, parts=["part-a"])
    names = CORRECT + sorted(MISTAKES)
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1),
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {(name, again): pool.submit(grade_part_a, SUBMISSIONS / name)
                   for name in names for again in ((False, True) if name in AGAIN else (False,))}

        def grade(name: str, *, again: bool = False):
            return futures[(name, again)].result()

        yield grade


@pytest.mark.parametrize("name", CORRECT)
def test_a_correct_submission_gets_full_marks(graded, name):
    assert_verdicts(graded(name), CHECKS, {})


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_mistake_loses_the_checks_that_name_it(graded, name):
    assert_verdicts(graded(name), CHECKS, MISTAKES[name])


@pytest.mark.parametrize("name", FALLBACK)
def test_a_wrong_function_costs_no_module_points(graded, name):
    for result in graded(name).results:
        if result.test_cell == "test_mha":
            assert result.score == result.max_score
    notes = [result.output for result in graded(name).results if result.test_cell == "test_mha" and result.output]
    assert notes and all(note == attention.FALLBACK_NOTE for note in notes)


def test_a_counterexample_is_small_and_can_be_typed_in(graded):
    """Hypothesis shrinks to the smallest failing case, and the message prints its inputs as torch literals."""
    output = next(r.output for r in graded("bad_mask_ignored.py").results if r.name == "sdpa_mask")
    assert "Q of shape (1, 1, 1, 1), K and V of shape (1, 1, 2, 1)" in output
    assert "mask = torch.tensor([[[[True, False]]]])" in output and "Q = torch.tensor(" in output
    assert "has mask == 0 but gets weight" in output


def test_grading_is_deterministic(graded):
    """Derandomized hypothesis, no example database: the same file gets byte-identical JSON."""
    for name in AGAIN:
        assert graded(name, again=True).to_json() == graded(name).to_json()


def test_the_points_are_the_notebooks():
    from autograder.checks import ALL_CHECKS

    entries = {entry.name: entry for entry in ALL_CHECKS if entry.part == "part-a"}
    assert {name: entry.points for name, entry in entries.items()} == CHECKS
    assert {entries[name].test_cell for name in SDPA_CHECKS} == {"test_sdpa"}
    assert {entries[name].test_cell for name in MHA_CHECKS} == {"test_mha"}
    assert sum(SDPA_CHECKS.values()) == sum(MHA_CHECKS.values()) == 15


# ---------------------------------------------------------------------------------------------
# The grader's own pieces, in process (no worker)

@pytest.mark.parametrize("kind", attention.MASK_KINDS)
@pytest.mark.parametrize("fully_masked", [False, True])
def test_masks_have_the_notebooks_shapes_and_keep_a_key_per_query_unless_asked(kind, fully_masked):
    rng = np.random.default_rng(0)
    shapes = {"padding": (3, 1, 1, 5), "causal": (4, 5), "causal4d": (1, 1, 4, 5), "full": (3, 2, 4, 5)}
    for _ in range(20):
        keep = attention.make_keep(kind, 3, 2, 4, 5, rng, fully_masked)
        assert keep.shape == shapes[kind] and keep.dtype == bool
        rows = np.broadcast_to(keep, (3, 2, 4, 5)).any(axis=-1)
        assert rows.all() != fully_masked
        assert not keep.all()


def test_the_mistake_library_never_matches_the_reference():
    """Otherwise the diagnosis could name a correct function's weights as a mistake."""
    case = attention.SdpaCase(2, 2, 3, 4, 4, mask="padding", seed=3)
    _, right = attention.sdpa_variant(case)
    for mistake in attention.SDPA_MISTAKES:
        _, wrong = attention.sdpa_variant(case, mistake)
        assert np.abs(wrong - right).max() > 1e-3, mistake
    module_case = attention.MhaCase(2, 3, 2, 2, mask="padding", seed=4)
    expected = attention.mha_expected(module_case)
    for options, _ in attention.MHA_MISTAKES:
        context, weights = attention.mha_variant(module_case, **options)
        assert max(np.abs(context - expected["context"]).max(), np.abs(weights - expected["weights"]).max()) > 1e-3
    context, weights = attention.mha_variant(module_case)
    np.testing.assert_allclose(context, expected["context"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weights, expected["weights"], rtol=1e-12, atol=1e-12)


def test_large_score_cases_are_exact_in_float32():
    """Integer Q and K with d_k in (1, 4, 16): float32 scores equal float64 ones, so tight tolerances stay fair."""
    for head_dim in (1, 4, 16):
        case = attention.SdpaCase(2, 2, 5, 6, head_dim, large=True, seed=head_dim)
        Q, K = (torch.from_numpy(case.arrays[name]) for name in "QK")
        single = (Q @ K.transpose(-2, -1) / np.sqrt(head_dim)).double()
        double = Q.double() @ K.double().transpose(-2, -1) / np.sqrt(head_dim)
        assert torch.equal(single, double) and double.abs().max() > 1000


def test_the_notebook_front_door_runs_the_same_checks_on_live_objects():
    """In the instructor's kernel (no worker): the source notebook's solution cells pass every Part A check."""
    from autograder.assignment import course
    from autograder.notebook import check_namespace
    from autograder.assignment.course import PRELUDE

    namespace: dict = {}
    exec(compile(PRELUDE, "<prelude>", "exec"), namespace)
    for grade_id, source in course.cells(("sdpa", "mha")).items():
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    for cell in ("test_sdpa", "test_mha"):
        report = check_namespace(cell, namespace)
        assert report.score == 15, report.text()
    assert namespace["scaled_dot_product_attention"].__code__.co_filename == "<sdpa>"   # put back after each check
