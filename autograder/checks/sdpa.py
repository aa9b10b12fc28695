"""The checks of test cell ``test_sdpa``: the student's scaled_dot_product_attention, judged by its behaviour.

Every check draws its cases with hypothesis (derandomized, no example database, no deadline; the
number of examples is fixed per check, below) and compares what the student's code returns in the
worker with our float64 reference computed on the very same float32 inputs (:mod:`.cases`),
within :data:`~autograder.checks.compare.FLOAT32_VS_FLOAT64`.  A failing check reports the
smallest counterexample hypothesis found: the shapes, the mask (and the inputs when they are
small enough to type in), the expected and the returned numbers, and, when the returned numbers
are those of a known mistake (:mod:`.mistakes`), that mistake in words.  Masking is judged by the
rule of :mod:`.masking`.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from autograder.checks.cases import SdpaCase, sdpa_cases, sdpa_expected, sdpa_expected_gradients
from autograder.checks.compare import FLOAT32_VS_FLOAT64, all_finite, close, describe_mismatch, format_index
from autograder.checks.masking import (
    LEAK,
    MASK_DTYPES,
    MASK_KINDS,
    SUM_TOLERANCE,
    are_distributions,
    kept,
    leaking_key,
    masking_problem,
)
from autograder.checks.mistakes import diagnose_sdpa, sdpa_variant
from autograder.checks.registry import Student, check, for_all
from autograder.errors import CheckFailed, StudentError

PART, CELL = "part-a", "test_sdpa"
WEIGHTS_HINT = ("\nLook at the scores, Q @ K.transpose(-2, -1) / sqrt(d_k) with d_k = Q.size(-1), then at the "
                "softmax over the last axis (dim=-1).")


def run_sdpa(student: Student, case: SdpaCase, *, grads: bool = False) -> dict[str, Any]:
    return student.call("sdpa", **case.request(grads=grads))


def shape_problem(got: dict[str, Any], case: SdpaCase) -> str | None:
    for key, what, shape, last in (("output", "output", case.output_shape, "d_k"),
                                   ("weights", "attention weights", case.weights_shape, "k_len")):
        if tuple(np.shape(got[key])) != shape:
            return (f"the {what} has shape {tuple(np.shape(got[key]))}; expected {shape} = "
                    f"(batch, heads, q_len, {last})")
    return None


def right(got: dict[str, Any], expected: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether the output and the weights are ``expected`` = (output, weights)."""
    return close(got["weights"], expected[1], FLOAT32_VS_FLOAT64) and close(got["output"], expected[0],
                                                                            FLOAT32_VS_FLOAT64)


def values_problem(case: SdpaCase, got: dict[str, Any]) -> str | None:
    """Weights, then output, against the reference: the first mismatch and its diagnosis (None: both right)."""
    expected_output, expected_weights = sdpa_expected(case)
    problem = shape_problem(got, case)
    if problem:
        return problem
    if not close(got["weights"], expected_weights, FLOAT32_VS_FLOAT64):
        return (describe_mismatch("the attention weights", expected_weights, got["weights"])
                + (diagnose_sdpa(case, got["weights"]) or WEIGHTS_HINT))
    if not close(got["output"], expected_output, FLOAT32_VS_FLOAT64):
        return (f"{describe_mismatch('the output', expected_output, got['output'])}\n"
                "Your weights are right: look at how the output is made from them; it is weights @ V.")
    return None


def fail_on(case: SdpaCase, problem: str | None) -> None:
    if problem:
        raise CheckFailed(f"{case}\n{problem}")


def mask_leak(case: SdpaCase, weights: np.ndarray) -> str | None:
    """The key with mask == 0 that gets the most weight, in words (None if none gets any)."""
    mask = case.arrays["mask"]
    if mask is None or np.shape(weights) != case.weights_shape:
        return None
    worst = leaking_key(weights, np.broadcast_to(mask == 0, case.weights_shape))
    if worst is None:
        return None
    return (f"the key at weights{format_index(worst)} has mask == 0 but gets weight {weights[worst]:.4g}; masked keys "
            f"must get (numerically) zero weight: fill their scores with -1e9 before the softmax")


def unmasked_run(student: Student, case: SdpaCase) -> dict[str, Any]:
    data = case.arrays
    return student.call("sdpa", Q=data["Q"], K=data["K"], V=data["V"], mask=None)


@check("sdpa_shapes", part=PART, test_cell=CELL, points=2)
def sdpa_shapes(student: Student) -> None:
    """The output is (batch, heads, q_len, d_k) and the weights (batch, heads, q_len, k_len), float32 like the inputs.

    20 examples: batch, heads 1-3, q_len 1-5, k_len 1-6 (equal to q_len or not), d_k 1-8, no mask.
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case)
        fail_on(case, shape_problem(got, case))
        for key, what in (("output", "output"), ("weights", "attention weights")):
            if got[key].dtype != np.float32:
                raise CheckFailed(f"{case}\nthe {what} has dtype {got[key].dtype}; Q, K and V are float32, so it "
                                  "should be float32 too (cast back if you compute in another precision)")

    for_all(sdpa_cases(), test, examples=20)


@check("sdpa_weights_distribution", part=PART, test_cell=CELL, points=2)
def sdpa_weights_distribution(student: Student) -> None:
    """Every row of the attention weights is a probability distribution: non-negative, summing to 1.

    15 examples, without a mask and with bool masks of every shape (every query keeps a key).
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case)
        weights = np.asarray(got["weights"], dtype=np.float64)
        if weights.shape != case.weights_shape:
            raise CheckFailed(f"{case}\nthe attention weights have shape {weights.shape}; expected "
                              f"{case.weights_shape} = (batch, heads, q_len, k_len)")
        if not all_finite(weights):
            raise CheckFailed(f"{case}\nthe attention weights contain NaN or inf")
        lowest = np.unravel_index(int(np.argmin(weights)), weights.shape)
        if weights[lowest] < -LEAK:
            raise CheckFailed(f"{case}\nweights{format_index(lowest)} = {weights[lowest]:.4g} is negative; weights "
                              "come out of a softmax" + diagnose_sdpa(case, got["weights"]))
        sums = weights.sum(axis=-1)
        worst = np.unravel_index(int(np.argmax(np.abs(sums - 1.0))), sums.shape)
        if abs(sums[worst] - 1.0) > SUM_TOLERANCE:
            raise CheckFailed(f"{case}\nthe weights of query {format_index(worst)} sum to {sums[worst]:.6g}, not 1: "
                              "each query's weights over the keys (the last axis) must sum to 1"
                              + diagnose_sdpa(case, got["weights"]))

    for_all(sdpa_cases(("none",) + MASK_KINDS), test, examples=15)


@check("sdpa_values", part=PART, test_cell=CELL, points=3)
def sdpa_values(student: Student) -> None:
    """Without a mask, weights = softmax(Q K^T / sqrt(d_k)) and output = weights @ V, as the float64 reference.

    25 examples (self- and cross-attention, sizes from 1).
    """
    for_all(sdpa_cases(), lambda case: fail_on(case, values_problem(case, run_sdpa(student, case))), examples=25)


def masked_test(student: Student, *, hint_dtypes: bool = False) -> Callable[[SdpaCase], None]:
    """A mask check's test: the reference's values, or else the masking rule of :mod:`.masking`."""
    def test(case: SdpaCase) -> None:
        try:
            got = run_sdpa(student, case)
        except StudentError as exc:
            hint = ("\nMasks may be bool, int or float: test `mask == 0` (which works for all three) rather than using "
                    "the mask itself as a boolean (`~mask`, torch.where(mask, ...), masked_fill(mask, ...))"
                    if hint_dtypes else "")
            raise CheckFailed(f"{case}\nyour code raised:\n{exc}{hint}") from None
        fail_on(case, shape_problem(got, case))
        if right(got, sdpa_expected(case)):
            return
        leak = mask_leak(case, got["weights"])
        unmasked = sdpa_variant(case, "mask_ignored")
        own = unmasked_run(student, case)
        data = case.arrays

        def against_reference() -> str | None:
            return leak + diagnose_sdpa(case, got["weights"]) if leak else values_problem(case, got)

        def against_renormalized(weights: np.ndarray) -> str | None:
            output = weights @ data["V"].astype(np.float64)
            if right(got, (output, weights)):
                return None
            if close(got["weights"], weights, FLOAT32_VS_FLOAT64):
                return describe_mismatch("the output", output, got["output"]) + "; the output is weights @ V"
            return leak or describe_mismatch("the attention weights", weights, got["weights"])

        fail_on(case, masking_problem(got["weights"], kept(data["mask"], case.weights_shape), own["weights"],
                                      right_without_mask=right(own, unmasked), against_reference=against_reference,
                                      against_renormalized=against_renormalized,
                                      leak=lambda: f"{leak}" + diagnose_sdpa(case, got["weights"])))
    return test


@check("sdpa_mask", part=PART, test_cell=CELL, points=3)
def sdpa_mask(student: Student) -> None:
    """With a bool mask of every shape the notebook uses, masked keys get zero weight and the values match.

    6 examples for each mask shape: padding (batch, 1, 1, k), causal (q, k) and (1, 1, q, k), full
    (batch, heads, q, k).  Every query keeps at least one key (rows with every key masked are
    sdpa_fully_masked_rows' business).  A function that is wrong without a mask too (sdpa_values
    says so) is judged on its masking only: its masked weights must be its unmasked weights
    restricted to the kept keys and renormalized.
    """
    for kind in MASK_KINDS:
        for_all(sdpa_cases((kind,), ("bool",)), masked_test(student), examples=6)


@check("sdpa_mask_dtypes", part=PART, test_cell=CELL, points=1)
def sdpa_mask_dtypes(student: Student) -> None:
    """Int and float masks (0 = masked, 1 = kept) work like bool ones, in every shape.

    2 examples for each of int64, int32, float32 and each mask shape (24 in all), judged as in sdpa_mask.
    """
    for dtype, kind in itertools.product(MASK_DTYPES[1:], MASK_KINDS):
        for_all(sdpa_cases((kind,), (dtype,)), masked_test(student, hint_dtypes=True), examples=2)


def weights_are_its_own(student: Student, case: SdpaCase) -> bool:
    """Whether, without a mask, the function gives rows of probabilities and output = weights @ V (right or not)."""
    own = unmasked_run(student, case)
    return are_distributions(own["weights"], case.weights_shape) and close(
        own["output"], np.asarray(own["weights"], dtype=np.float64) @ case.arrays["V"].astype(np.float64),
        FLOAT32_VS_FLOAT64)


def dead_row_problem(case: SdpaCase, got: dict[str, Any], index: tuple) -> str | None:
    """What is wrong in one row whose every key is masked (None: nothing), by the notebook's -1e9 replacement.

    Such a row's scores are all replaced by -1e9: its weights are uniform, its output the mean of V
    (or zero, see sdpa_fully_masked_rows) and nothing of it depends on Q, so no gradient reaches that query.
    """
    where = f" of query {format_index(index)} (every key masked)"
    uniform = np.full(case.k_len, 1.0 / case.k_len)
    row = np.asarray(got["weights"][index], dtype=np.float64)
    if not close(row, uniform, FLOAT32_VS_FLOAT64):
        return (describe_mismatch("the attention weights", uniform, row, where=where)
                + f" (your row sums to {row.sum():.4g}).\nThe notebook replaces every masked score by -1e9, so such a "
                  f"row's scores are all equal and its weights are uniform, 1/k_len = {1 / case.k_len:.4g} each. Look "
                  "at how your code puts -1e9 in: adding it to the scores (an additive mask, scores + (mask == 0) * "
                  "-1e9) is not the same once scores are large; use scores.masked_fill(mask == 0, -1e9), before the "
                  "softmax.")
    out = np.asarray(got["output"][index], dtype=np.float64)
    expected = uniform @ case.arrays["V"].astype(np.float64)[index[0], index[1]]
    if not (close(out, expected, FLOAT32_VS_FLOAT64) or close(out, np.zeros_like(expected), FLOAT32_VS_FLOAT64)):
        return (describe_mismatch("the output", expected, out, where=where)
                + ": with uniform weights the output is the mean of V's rows (weights @ V)")
    grad = got.get("grad_Q")
    if grad is not None and not close(grad[index], np.zeros(case.head_dim), FLOAT32_VS_FLOAT64):
        return ("backpropagating sum(output * g) + sum(weights * g'): "
                + describe_mismatch(f"the gradient with respect to Q{format_index(index)}", np.zeros(case.head_dim),
                                    grad[index])
                + ".\nEvery score of this query is replaced by -1e9, a constant, so no gradient may reach its query. "
                  "Yours does: the scores are changed (an additive mask, scores + (mask == 0) * -1e9) rather than "
                  "replaced: use scores.masked_fill(mask == 0, -1e9) or torch.where.")
    return None


def as_without_mask(got: dict[str, Any], own: dict[str, Any], index: tuple) -> bool:
    """Whether a row is what the function gives there without a mask: the mask is not applied (sdpa_mask's business)."""
    return all(got.get(key) is not None and own.get(key) is not None
               and close(got[key][index], np.asarray(own[key][index], dtype=np.float64), FLOAT32_VS_FLOAT64)
               for key in ("weights", "grad_Q") if got.get(key) is not None)


@check("sdpa_fully_masked_rows", part=PART, test_cell=CELL, points=1)
def sdpa_fully_masked_rows(student: Student) -> None:
    """A query whose every key is masked gets what the notebook's -1e9 replacement gives it.

    20 examples (bool padding, causal and full masks with one query row, or one batch element,
    fully masked), half of them with scores in the thousands (integer Q and K, as in
    sdpa_numerically_stable).  Only those rows are judged here; int and float masks are
    sdpa_mask_dtypes'.

    A row that is what the function gives without a mask (the mask not applied, or inverted) is
    sdpa_mask's business, not this check's.

    What is judged, and why: the notebook gives masked scores "the score -1e9", so such a row's
    scores are all equal, its weights uniform (1/k_len; the visible test says so), its output the
    mean of V, and nothing of the row depends on Q, so the gradient reaching that query is zero.
    Filling with torch.finfo(dtype).min or torch.where(mask != 0, scores, -1e9) gives the same.
    Adding -1e9 to the scores (an additive mask) does not: with large scores float32 keeps part of
    their differences, and at any scale the gradient still flows to Q.  For the output: the mean of
    V or zero, since F.scaled_dot_product_attention with a boolean mask returns 0 for a query that
    may look at nothing (a reasonable convention a correct solution may inherit).  NaN or inf
    anywhere (a -inf fill gives 0/0 in such a row, which the visible test rejects too) fails: it
    would poison everything downstream.  When the function's weights are not probabilities even
    without a mask (other checks report that), only the absence of NaN and inf is judged.
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case, grads=True)
        fail_on(case, shape_problem(got, case))
        if not all_finite(got["weights"], got["output"]):
            raise CheckFailed(f"{case}\nyour weights or output contain NaN or inf where every key of a query is "
                              "masked. Expected uniform weights (1/k_len each): fill masked scores with -1e9 (not "
                              "-inf), so that such a query's scores are all equal instead of giving 0/0.")
        dead = zip(*np.nonzero(~kept(case.arrays["mask"], case.weights_shape).any(axis=-1)))
        problems = {index: problem for index in dead if (problem := dead_row_problem(case, got, index))}
        if not problems:
            return
        own = student.call("sdpa", **{**case.request(grads=True), "mask": None})
        problems = {index: problem for index, problem in problems.items() if not as_without_mask(got, own, index)}
        if problems and weights_are_its_own(student, case):
            raise CheckFailed(f"{case}\n{next(iter(problems.values()))}")

    for large in (False, True):
        for_all(sdpa_cases(("padding", "causal", "full"), fully_masked=True, large=large), test, examples=10)


@check("sdpa_numerically_stable", part=PART, test_cell=CELL, points=1)
def sdpa_numerically_stable(student: Student) -> None:
    """Scores in the thousands give no NaN or inf, and values as right as for ordinary scores (a stable softmax).

    15 examples: integer Q and K entries up to 40 in size, d_k in 1, 4, 16 (so that the scores are
    exact in float32 too), no mask or a bool padding mask.  Then 5 examples with a padding mask whose
    every score lies between -40000 and -10000 (d_k = 16, integers again): a masked key still gets
    no weight only if its score is the notebook's -1e9 (or lower), not a milder fill such as -1e4.
    The values must match the reference unless the function is also wrong on the same shapes with
    ordinary inputs (sdpa_values reports that): only large-score trouble counts here.
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case)
        fail_on(case, shape_problem(got, case))
        if not all_finite(got["weights"], got["output"]):
            scores = np.abs(case.arrays["Q"].astype(np.float64) @ np.swapaxes(case.arrays["K"], -1, -2)).max()
            raise CheckFailed(f"{case}\nwith scores up to {scores / math.sqrt(case.head_dim):.4g} your weights or "
                              "output contain NaN or inf: exp overflows. Use torch.softmax (or subtract each row's "
                              "maximum before exp).")
        if right(got, sdpa_expected(case)):
            return
        ordinary = replace(case, large=False, far=False)
        if right(run_sdpa(student, ordinary), sdpa_expected(ordinary)):
            leak = mask_leak(case, got["weights"]) if case.far else None
            problem = (f"{leak}. Every kept score here is below -1e4, so a fill of -1e4 is not low enough: use the "
                       "notebook's -1e9" if leak else values_problem(case, got))
            if problem:
                raise CheckFailed(f"{case}\n{problem}\nYour function is right for ordinary scores but not for large "
                                  "ones.")

    for_all(sdpa_cases(("none", "padding"), large=True), test, examples=15)
    for_all(sdpa_cases(("padding",), far=True), test, examples=5)


@check("sdpa_gradients", part=PART, test_cell=CELL, points=1)
def sdpa_gradients(student: Student) -> None:
    """Gradients flow through the output to Q, K and V, and equal the reference's.

    15 examples (no mask, bool padding or causal masks), backpropagating sum(output * g) + sum(weights * g'),
    or sum(output * g) alone when the weights come back detached: the notebook asks for the weights'
    values (to look at them), not for a graph behind them.  The gradients' values are compared where
    the forward values are right (elsewhere other checks report the mistake, and only the flow of
    gradients is judged).
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case, grads=True)
        fail_on(case, shape_problem(got, case))
        through_weights = bool(got["weights_requires_grad"])
        weights_term = " + sum(weights * g')" if through_weights else ""
        intro = f"{case}\nbackpropagating sum(output * g){weights_term}:\n"
        if not got["output_requires_grad"]:
            raise CheckFailed(f"{intro}expected a gradient to flow back through the output you return, but it is "
                              "detached from the graph: look for .detach(), .data, torch.no_grad(), .numpy() or a new "
                              "tensor built from numbers on the way from Q, K, V to the output")
        missing = [name for name in "QKV" if got.get(f"grad_{name}") is None]
        if missing:
            raise CheckFailed(f"{intro}expected gradients with respect to Q, K and V; none reaches "
                              f"{', '.join(missing)}: is it used through torch operations only?")
        if not right(got, sdpa_expected(case)):
            return
        expected = sdpa_expected_gradients(case, through_weights=through_weights)
        for name in "QKV":
            if not close(got[f"grad_{name}"], expected[name], FLOAT32_VS_FLOAT64):
                raise CheckFailed(intro + describe_mismatch(f"the gradient with respect to {name}", expected[name],
                                                            got[f"grad_{name}"])
                                  + ". Your forward values are right: look for an operation whose gradient differs "
                                    "from its value's (a .detach() or .data inside the computation)")

    for_all(sdpa_cases(("none", "padding", "causal")), test, examples=15)


@check("sdpa_inputs_unchanged", part=PART, test_cell=CELL, points=1)
def sdpa_inputs_unchanged(student: Student) -> None:
    """Q, K, V and the mask are left as they were (nothing is modified in place).

    10 examples, without a mask and with bool masks of every shape.
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case)
        for name in ("Q", "K", "V", "mask"):
            before = case.arrays[name]
            if before is None:
                continue
            after = got.get(f"{name}_after")
            if after is None or after.shape != before.shape or not np.array_equal(after, before):
                raise CheckFailed(f"{case}\nyour function changed its argument {name} in place (an in-place "
                                  f"operation such as `{name} /= ...`, `{name}.mul_(...)`, `{name}[...] = ...` or "
                                  f"`{name}.masked_fill_(...)`); compute new tensors instead, the caller still needs "
                                  f"{name}")

    for_all(sdpa_cases(("none",) + MASK_KINDS), test, examples=10)
