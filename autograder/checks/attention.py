"""Part A: the student's scaled_dot_product_attention and MultiHeadAttention, judged by their behaviour.

Every check draws its cases with hypothesis (derandomized, no example database, no deadline; the
number of examples is fixed per check, below) and compares what the student's code returns in the
worker with our float64 reference computed here on the very same float32 inputs, within a tight
float32 tolerance (``RTOL`` relative, ``ATOL`` times the size of the expected values).  A failing
check reports the smallest counterexample hypothesis found: the shapes, the mask (and the inputs
when they are small enough to type in), the expected and the returned numbers, and, when the
returned numbers are those of a known mistake, that mistake in words.

``test_sdpa`` (15 points): ``sdpa_shapes`` 2, ``sdpa_weights_distribution`` 2, ``sdpa_values`` 3,
``sdpa_mask`` 3, ``sdpa_mask_dtypes`` 1, ``sdpa_fully_masked_rows`` 1, ``sdpa_numerically_stable`` 1,
``sdpa_gradients`` 1, ``sdpa_inputs_unchanged`` 1.

``test_mha`` (15 points): ``mha_shapes`` 2, ``mha_weights_distribution`` 1, ``mha_attention_weights`` 3,
``mha_context`` 3, ``mha_mask`` 2, ``mha_gradients`` 2, ``mha_any_shape`` 1, ``mha_inputs_unchanged`` 1.

Masks: the notebook's broadcast shapes (padding ``(batch, 1, 1, k)``, causal ``(q, k)`` and
``(1, 1, q, k)``, full ``(batch, heads, q, k)``), holding 0/1 values in bool, int64, int32 or
float32.  Only ``sdpa_fully_masked_rows`` uses masks with a query whose every key is masked; the
other checks keep at least one key per query, so that implementations which differ only there
(``-inf`` fills, ``F.scaled_dot_product_attention``) lose that one point at most.

MultiHeadAttention is judged as a module around *some* attention function: each MHA case runs with
the student's own ``scaled_dot_product_attention`` and, when that fails, once more with the
notebook's formula standing in for it (see :mod:`autograder.probes.attention`).  A module that is
right with a correct attention function passes, so one mistake in the function costs test_sdpa
points only, never test_mha points too.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from autograder.assignment import reference
from autograder.checks.base import CheckFailed, Student, check, describe_mismatch, for_all
from autograder.errors import StudentError

PART = "part-a"
SDPA_CELL, MHA_CELL = "test_sdpa", "test_mha"
RTOL, ATOL = 1e-4, 1e-5          # float32 results against float64: |got - expected| <= ATOL * scale + RTOL * |expected|
LEAK = 1e-6                      # the most weight a masked key may get
FILL = reference.MASK_FILL
MASK_KINDS = ("padding", "causal", "causal4d", "full")
MASK_DTYPES = ("bool", "int64", "int32", "float32")
MASK_SHAPES = {"padding": "(batch, 1, 1, k_len), a padding mask", "causal": "(q_len, k_len), a causal mask",
               "causal4d": "(1, 1, q_len, k_len), a causal mask", "full": "(batch, heads, q_len, k_len)"}
MAX_SHOWN = 48                   # inputs with at most this many numbers are printed in failure messages
LARGE = 40                       # |entries| of Q and K in the large-score cases (integers: the scores are exact)


# ----------------------------------------------------------------------------------------------
# Masks and inputs

def make_keep(kind: str, batch: int, heads: int, q_len: int, k_len: int, rng: np.random.Generator,
              fully_masked: bool = False) -> np.ndarray:
    """Where a query may look (True), in one of the notebook's mask shapes.

    Every query keeps at least one key, and some key is masked when there is more than one, unless
    ``fully_masked``: then one query row (one batch element for a padding mask) masks every key.
    """
    if kind == "padding":
        keep = rng.random((batch, 1, 1, k_len)) < 0.65
    elif kind in ("causal", "causal4d"):
        offset = max(k_len - q_len, 0)
        keep = np.arange(k_len)[None, :] <= np.arange(q_len)[:, None] + offset
        keep = keep[None, None] if kind == "causal4d" else keep
    elif kind == "full":
        keep = rng.random((batch, heads, q_len, k_len)) < 0.6
    else:
        raise ValueError(kind)
    keep = np.array(keep, dtype=bool, order="C")
    rows = keep.reshape(-1, k_len)
    for row in rows:
        if not row.any():
            row[rng.integers(k_len)] = True
    if kind != "causal" and kind != "causal4d" and k_len > 1 and keep.all():
        rows[0, rng.integers(k_len)] = False
    if fully_masked:
        rows[rng.integers(len(rows))] = False
    return keep


def rounded_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal numbers with two decimals, so that a printed counterexample is the exact input."""
    return np.round(rng.standard_normal(shape), 2).astype(np.float32)


def literal(array: np.ndarray) -> str:
    if array.dtype == bool:
        return f"torch.tensor({array.tolist()})"
    if array.dtype.kind in "iu":
        return f"torch.tensor({array.tolist()}, dtype=torch.{array.dtype.name})"
    values = np.round(array.astype(np.float64), 4).tolist()
    return f"torch.tensor({values})"


def describe_mask(mask: np.ndarray | None, kind: str) -> str:
    if mask is None:
        return "mask=None"
    text = f"a {mask.dtype.name} mask of shape {tuple(mask.shape)} = {MASK_SHAPES[kind]}"
    if mask.size <= 64:
        text += f": mask = {literal(mask)}"
    else:
        text += f" ({int((mask == 0).sum())} of {mask.size} entries are 0)"
    return text


def _close(got: Any, expected: np.ndarray, rtol: float = RTOL, atol: float = ATOL) -> bool:
    if got is None or np.shape(got) != expected.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return bool(np.allclose(np.asarray(got, dtype=np.float64), expected, rtol=rtol, atol=atol * scale))


def _torch(array: np.ndarray | None) -> torch.Tensor | None:
    return None if array is None else torch.from_numpy(np.asarray(array))


def _double(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


def _finite(*arrays: np.ndarray) -> bool:
    return all(bool(np.all(np.isfinite(np.asarray(a, dtype=np.float64)))) for a in arrays)


def _index(index: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


# ----------------------------------------------------------------------------------------------
# scaled_dot_product_attention: cases and reference

@dataclass(frozen=True)
class SdpaCase:
    batch: int
    heads: int
    q_len: int
    k_len: int
    head_dim: int
    mask: str = "none"       # "none" or one of MASK_KINDS
    dtype: str = "bool"
    seed: int = 0
    fully_masked: bool = False
    large: bool = False

    @cached_property
    def arrays(self) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.q_len, self.k_len, self.head_dim])
        shape_q = (self.batch, self.heads, self.q_len, self.head_dim)
        shape_k = (self.batch, self.heads, self.k_len, self.head_dim)
        if self.large:
            Q = rng.integers(-LARGE, LARGE + 1, shape_q).astype(np.float32)
            K = rng.integers(-LARGE, LARGE + 1, shape_k).astype(np.float32)
        else:
            Q, K = rounded_normal(rng, shape_q), rounded_normal(rng, shape_k)
        V = rounded_normal(rng, shape_k)
        mask = None
        if self.mask != "none":
            keep = make_keep(self.mask, self.batch, self.heads, self.q_len, self.k_len, rng, self.fully_masked)
            mask = keep.astype(self.dtype)
        return {"Q": Q, "K": K, "V": V, "mask": mask,
                "grad_output": rounded_normal(rng, (self.batch, self.heads, self.q_len, self.head_dim)),
                "grad_weights": rounded_normal(rng, (self.batch, self.heads, self.q_len, self.k_len))}

    def request(self, grads: bool = False) -> dict[str, Any]:
        data = self.arrays
        request = {name: data[name] for name in ("Q", "K", "V", "mask")}
        if grads:
            request.update(grad_output=data["grad_output"], grad_weights=data["grad_weights"])
        return request

    @property
    def weights_shape(self) -> tuple[int, ...]:
        return (self.batch, self.heads, self.q_len, self.k_len)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.batch, self.heads, self.q_len, self.head_dim)

    def __str__(self) -> str:
        data = self.arrays
        kind = "cross-attention, q_len != k_len" if self.q_len != self.k_len else "self-attention, q_len == k_len"
        lines = [f"scaled_dot_product_attention(Q, K, V, mask) with Q of shape {self.output_shape}, K and V of shape "
                 f"({self.batch}, {self.heads}, {self.k_len}, {self.head_dim}) ({kind}), "
                 f"{describe_mask(data['mask'], self.mask)}:"]
        if data["Q"].size + data["K"].size + data["V"].size <= MAX_SHOWN:
            lines += [f"  {name} = {literal(data[name])}" for name in "QKV"]
        elif self.large:
            lines.append(f"  (Q and K hold integers between -{LARGE} and {LARGE}: the scores are large)")
        return "\n".join(lines)


def sdpa_cases(masks: tuple[str, ...] = ("none",), dtypes: tuple[str, ...] = ("bool",), *, fully_masked: bool = False,
               large: bool = False) -> st.SearchStrategy[SdpaCase]:
    @st.composite
    def build(draw: Callable) -> SdpaCase:
        batch, heads = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        q_len = draw(st.integers(1, 5))
        k_len = q_len if draw(st.booleans()) else draw(st.integers(1, 6))
        head_dim = draw(st.sampled_from((1, 4, 16))) if large else draw(st.integers(1, 8))
        return SdpaCase(batch, heads, q_len, k_len, head_dim, mask=draw(st.sampled_from(masks)),
                        dtype=draw(st.sampled_from(dtypes)), seed=draw(st.integers(0, 2**16)),
                        fully_masked=fully_masked, large=large)
    return build()


def sdpa_variant(case: SdpaCase, mistake: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(output, weights) in float64: the reference's, or what a known mistake gives."""
    data = case.arrays
    Q, K, V = (_double(data[name]) for name in "QKV")
    mask = _torch(data["mask"])
    if not mistake:
        output, weights = reference.scaled_dot_product_attention(Q, K, V, mask)
        return output.numpy(), weights.numpy()
    d_k = Q.size(-1)
    scores = Q @ K.transpose(-2, -1)
    scores = {"scale_dk": scores / d_k, "no_scale": scores, "scale_times": scores * math.sqrt(d_k)}.get(
        mistake, scores / math.sqrt(d_k))
    masked = None if mask is None else (mask == 0)
    if masked is not None:
        if mistake == "mask_inverted":
            scores = scores.masked_fill(~masked, FILL)
        elif mistake == "mask_zero":
            scores = scores.masked_fill(masked, 0.0)
        elif mistake not in ("mask_ignored", "mask_after"):
            scores = scores.masked_fill(masked, FILL)
    if mistake == "no_softmax":
        weights = scores
    elif mistake == "wrong_axis":
        weights = F.softmax(scores, dim=-2)
    else:
        weights = F.softmax(scores, dim=-1)
    if mistake == "mask_after" and masked is not None:
        weights = weights.masked_fill(masked, 0.0)
    return (weights @ V).numpy(), weights.numpy()


SDPA_MISTAKES = {
    "scale_dk": "the scores are divided by d_k instead of sqrt(d_k)",
    "no_scale": "the scores Q K^T are not divided by sqrt(d_k)",
    "scale_times": "the scores are multiplied by sqrt(d_k) instead of divided by it",
    "wrong_axis": "the softmax runs over the query axis (dim=-2); it must run over the keys, dim=-1, so that each "
                  "query's weights sum to 1",
    "no_softmax": "these are the scores before the softmax: return softmax(scores, dim=-1) as the weights",
    "mask_ignored": "the mask is ignored",
    "mask_inverted": "the mask is inverted: the keys where mask == 0 must get the score -1e9, those where mask != 0 "
                     "are kept",
    "mask_zero": "masked scores are set to 0 instead of -1e9, so masked keys still get weight",
    "mask_after": "the masked weights are set to 0 after the softmax, so the rows no longer sum to 1: fill the "
                  "scores with -1e9 before the softmax",
}
MASK_MISTAKES = ("mask_ignored", "mask_inverted", "mask_zero", "mask_after")


def diagnose_sdpa(case: SdpaCase, got: Any, what: str = "weights") -> str:
    """A known mistake whose weights (or output) are what the student returned, in words; '' if none is."""
    index = 1 if what == "weights" else 0
    for mistake, words in SDPA_MISTAKES.items():
        if mistake in MASK_MISTAKES and case.arrays["mask"] is None:
            continue
        if _close(got, sdpa_variant(case, mistake)[index]):
            return f"\nYour {'weights are' if what == 'weights' else 'output is'} what you get when {words}."
    return ""


def run_sdpa(student: Student, case: SdpaCase, grads: bool = False) -> dict[str, Any]:
    return student.call("sdpa", **case.request(grads))


def _shape_problem(got: dict[str, Any], case: SdpaCase) -> str | None:
    for key, what, shape, last in (("output", "output", case.output_shape, "d_k"),
                                   ("weights", "attention weights", case.weights_shape, "k_len")):
        if tuple(np.shape(got[key])) != shape:
            return (f"the {what} has shape {tuple(np.shape(got[key]))}; expected {shape} = "
                    f"(batch, heads, q_len, {last})")
    return None


def _compare_sdpa(case: SdpaCase, got: dict[str, Any]) -> None:
    """Weights, then output, against the reference; fail with the first mismatch and its diagnosis."""
    expected_output, expected_weights = sdpa_variant(case)
    problem = _shape_problem(got, case)
    if problem:
        raise CheckFailed(f"{case}\n{problem}")
    if not _close(got["weights"], expected_weights):
        raise CheckFailed(f"{case}\n{describe_mismatch('the attention weights', expected_weights, got['weights'])}"
                          + diagnose_sdpa(case, got["weights"]))
    if not _close(got["output"], expected_output):
        raise CheckFailed(f"{case}\n{describe_mismatch('the output', expected_output, got['output'])}\n"
                          "Your weights are right: the output is weights @ V.")


def _mask_leak(case: SdpaCase, weights: np.ndarray) -> str | None:
    mask = case.arrays["mask"]
    if mask is None or np.shape(weights) != case.weights_shape:
        return None
    masked = np.broadcast_to(mask == 0, case.weights_shape)
    if not masked.any():
        return None
    leaked = np.where(masked, np.abs(np.nan_to_num(weights.astype(np.float64), nan=1.0)), 0.0)
    worst = np.unravel_index(int(np.argmax(leaked)), leaked.shape)
    if leaked[worst] <= LEAK:
        return None
    return (f"the key at weights{_index(worst)} has mask == 0 but gets weight {weights[worst]:.4g}; masked keys must "
            f"get (numerically) zero weight: fill their scores with -1e9 before the softmax")


def _one_thread(function: Callable[[Student], Any]) -> Callable[[Student], Any]:
    """Run a check's own torch work on one thread (tiny tensors are many times slower with more), RNG untouched."""
    def run(student: Student) -> Any:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.random.fork_rng(devices=[]):
                return function(student)
        finally:
            torch.set_num_threads(threads)
    run.__doc__, run.__name__ = function.__doc__, function.__name__
    return run


# ----------------------------------------------------------------------------------------------
# scaled_dot_product_attention: checks (test_sdpa, 15 points)

@check("sdpa_shapes", part=PART, test_cell=SDPA_CELL, points=2)
@_one_thread
def sdpa_shapes(student: Student) -> None:
    """The output is (batch, heads, q_len, d_k) and the weights (batch, heads, q_len, k_len), float32 like the inputs.

    20 examples: batch, heads 1-3, q_len 1-5, k_len 1-6 (equal to q_len or not), d_k 1-8, no mask.
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case)
        problem = _shape_problem(got, case)
        if problem:
            raise CheckFailed(f"{case}\n{problem}")
        for key, what in (("output", "output"), ("weights", "attention weights")):
            if got[key].dtype != np.float32:
                raise CheckFailed(f"{case}\nthe {what} has dtype {got[key].dtype}; Q, K and V are float32, so it "
                                  "should be float32 too (cast back if you compute in another precision)")

    for_all(sdpa_cases(), test, examples=20)


@check("sdpa_weights_distribution", part=PART, test_cell=SDPA_CELL, points=2)
@_one_thread
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
        if not _finite(weights):
            raise CheckFailed(f"{case}\nthe attention weights contain NaN or inf")
        lowest = np.unravel_index(int(np.argmin(weights)), weights.shape)
        if weights[lowest] < -LEAK:
            raise CheckFailed(f"{case}\nweights{_index(lowest)} = {weights[lowest]:.4g} is negative; weights come "
                              "out of a softmax" + diagnose_sdpa(case, got["weights"]))
        sums = weights.sum(axis=-1)
        worst = np.unravel_index(int(np.argmax(np.abs(sums - 1.0))), sums.shape)
        if abs(sums[worst] - 1.0) > 10 * ATOL:
            raise CheckFailed(f"{case}\nthe weights of query {_index(worst)} sum to {sums[worst]:.6g}, not 1: "
                              "each query's weights over the keys (the last axis) must sum to 1"
                              + diagnose_sdpa(case, got["weights"]))

    for_all(sdpa_cases(("none",) + MASK_KINDS), test, examples=15)


@check("sdpa_values", part=PART, test_cell=SDPA_CELL, points=3)
@_one_thread
def sdpa_values(student: Student) -> None:
    """Without a mask, weights = softmax(Q K^T / sqrt(d_k)) and output = weights @ V, as the float64 reference.

    25 examples (self- and cross-attention, sizes from 1).
    """
    for_all(sdpa_cases(), lambda case: _compare_sdpa(case, run_sdpa(student, case)), examples=25)


def _distributions(weights: Any, shape: tuple[int, ...]) -> bool:
    """Whether ``weights`` has ``shape`` and each of its rows is a probability distribution."""
    if weights is None or np.shape(weights) != shape:
        return False
    w = np.asarray(weights, dtype=np.float64)
    return _finite(w) and float(w.min(initial=0.0)) >= -LEAK and bool(np.all(np.abs(w.sum(axis=-1) - 1.0) <= 10 * ATOL))


def _renormalized(weights: Any, keep: np.ndarray) -> np.ndarray:
    """Unmasked weights restricted to the kept keys and renormalized: what masking with -1e9 does to a softmax."""
    kept = np.asarray(weights, dtype=np.float64) * keep
    totals = kept.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, kept / totals, np.nan)


def _neutralized(weights: Any, masked: np.ndarray) -> bool:
    """Whether every masked entry is 0 (a weight) or hugely negative (a score filled before no softmax)."""
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=1.0)[masked]
    return bool(np.all((np.abs(w) <= LEAK) | (w <= FILL / 2)))


RELATIVE_NOTE = ("(Your function is wrong without a mask too, which other checks report; here only the mask is judged: "
                 "masking with -1e9 before the softmax should turn your unmasked weights into the same weights "
                 "restricted to the kept keys and renormalized.)")


def _masked_test(student: Student, *, hint_dtypes: bool = False) -> Callable[[SdpaCase], None]:
    """A mask check's test: the reference's values, or (for a function wrong without a mask too) right masking of its own."""
    def test(case: SdpaCase) -> None:
        try:
            got = run_sdpa(student, case)
        except StudentError as exc:
            hint = ("\nMasks may be bool, int or float: test `mask == 0` (which works for all three) rather than using "
                    "the mask itself as a boolean (`~mask`, torch.where(mask, ...), masked_fill(mask, ...))"
                    if hint_dtypes else "")
            raise CheckFailed(f"{case}\nyour code raised:\n{exc}{hint}") from None
        problem = _shape_problem(got, case)
        if problem:
            raise CheckFailed(f"{case}\n{problem}")
        expected_output, expected_weights = sdpa_variant(case)
        if _close(got["weights"], expected_weights) and _close(got["output"], expected_output):
            return
        leak = _mask_leak(case, got["weights"])
        unmasked_output, unmasked_weights = sdpa_variant(case, "mask_ignored")
        data = case.arrays
        own = student.call("sdpa", Q=data["Q"], K=data["K"], V=data["V"], mask=None)
        if _close(own["weights"], unmasked_weights) and _close(own["output"], unmasked_output):
            if leak:
                raise CheckFailed(f"{case}\n{leak}" + diagnose_sdpa(case, got["weights"]))
            _compare_sdpa(case, got)
            return
        keep = np.broadcast_to(data["mask"] != 0, case.weights_shape)
        if _distributions(own["weights"], case.weights_shape):
            weights = _renormalized(own["weights"], keep)
            output = weights @ data["V"].astype(np.float64)
            if _close(got["weights"], weights) and _close(got["output"], output):
                return
            if _close(got["weights"], weights):
                mismatch = describe_mismatch("the output", output, got["output"]) + "; the output is weights @ V"
            else:
                mismatch = leak or describe_mismatch("the attention weights", weights, got["weights"])
            raise CheckFailed(f"{case}\n{mismatch}\n{RELATIVE_NOTE}")
        if not _neutralized(got["weights"], ~keep):
            raise CheckFailed(f"{case}\n{leak}" + diagnose_sdpa(case, got["weights"]))
    return test


@check("sdpa_mask", part=PART, test_cell=SDPA_CELL, points=3)
@_one_thread
def sdpa_mask(student: Student) -> None:
    """With a bool mask of every shape the notebook uses, masked keys get zero weight and the values match.

    6 examples for each mask shape: padding (batch, 1, 1, k), causal (q, k) and (1, 1, q, k), full
    (batch, heads, q, k).  Every query keeps at least one key (rows with every key masked are
    sdpa_fully_masked_rows' business).  A function that is wrong without a mask too (sdpa_values
    says so) is judged on its masking only: its masked weights must be its unmasked weights
    restricted to the kept keys and renormalized.
    """
    for kind in MASK_KINDS:
        for_all(sdpa_cases((kind,), ("bool",)), _masked_test(student), examples=6)


@check("sdpa_mask_dtypes", part=PART, test_cell=SDPA_CELL, points=1)
@_one_thread
def sdpa_mask_dtypes(student: Student) -> None:
    """Int and float masks (0 = masked, 1 = kept) work like bool ones, in every shape.

    2 examples for each of int64, int32, float32 and each mask shape (24 in all), judged as in sdpa_mask.
    """
    for dtype, kind in itertools.product(MASK_DTYPES[1:], MASK_KINDS):
        for_all(sdpa_cases((kind,), (dtype,)), _masked_test(student, hint_dtypes=True), examples=2)


def _weights_are_its_own(student: Student, case: SdpaCase) -> bool:
    """Whether, without a mask, the function gives rows of probabilities and output = weights @ V (right or not)."""
    data = case.arrays
    own = student.call("sdpa", Q=data["Q"], K=data["K"], V=data["V"], mask=None)
    return _distributions(own["weights"], case.weights_shape) and _close(
        own["output"], np.asarray(own["weights"], dtype=np.float64) @ data["V"].astype(np.float64))


@check("sdpa_fully_masked_rows", part=PART, test_cell=SDPA_CELL, points=1)
@_one_thread
def sdpa_fully_masked_rows(student: Student) -> None:
    """A query whose every key is masked gets NaN-free weights: uniform, as the -1e9 convention gives.

    15 examples (bool padding, causal and full masks with one query row, or one batch element,
    fully masked).  Only those rows are judged here; int and float masks are sdpa_mask_dtypes'.

    What is accepted for such a row, and why: the notebook fills masked scores with -1e9, so the
    row's scores are all equal and its weights uniform (1/k_len), its output the mean of V; filling
    with torch.finfo(dtype).min gives the same.  Adding -1e9 instead (an additive mask) leaves the
    scores' differences in exact arithmetic, so the unmasked softmax is accepted as well.  For the
    output: weights @ V for the accepted weights, or zero, since F.scaled_dot_product_attention with
    a boolean mask returns 0 for a query that may look at nothing (a reasonable convention a correct
    solution may inherit).  NaN or inf anywhere (a -inf fill gives 0/0 in such a row) fails: it would
    poison everything downstream.  When the function's weights are not probabilities even without a
    mask (other checks report that), only the absence of NaN and inf is judged.
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case)
        problem = _shape_problem(got, case)
        if problem:
            raise CheckFailed(f"{case}\n{problem}")
        if not _finite(got["weights"], got["output"]):
            raise CheckFailed(f"{case}\nyour weights or output contain NaN or inf where every key of a query is "
                              "masked. Fill masked scores with -1e9 (not -inf): such a query then gets uniform "
                              "weights instead of 0/0.")
        dead = ~np.broadcast_to(case.arrays["mask"] != 0, case.weights_shape).any(axis=-1)
        V = case.arrays["V"].astype(np.float64)
        unmasked = sdpa_variant(case, "mask_ignored")[1]
        for index in zip(*np.nonzero(dead)):
            where = f" of query {_index(index)} (every key masked)"
            row = np.asarray(got["weights"][index], dtype=np.float64)
            candidates = [np.full(case.k_len, 1.0 / case.k_len), unmasked[index]]
            matched = next((candidate for candidate in candidates if _close(row, candidate)), None)
            if matched is None:
                failure = (describe_mismatch("the attention weights", candidates[0], row, where=where)
                           + f"\nWith the -1e9 convention such a row's scores are all equal, so its weights are "
                             f"uniform, 1/k_len = {1 / case.k_len:.4g} each.")
            else:
                out = np.asarray(got["output"][index], dtype=np.float64)
                expected = matched @ V[index[0], index[1]]
                if _close(out, expected) or _close(out, np.zeros_like(expected)):
                    continue
                failure = describe_mismatch("the output", expected, out, where=where) + "; the output is weights @ V"
            if _weights_are_its_own(student, case):
                raise CheckFailed(f"{case}\n{failure}")
            return

    for_all(sdpa_cases(("padding", "causal", "full"), fully_masked=True), test, examples=15)


@check("sdpa_numerically_stable", part=PART, test_cell=SDPA_CELL, points=1)
@_one_thread
def sdpa_numerically_stable(student: Student) -> None:
    """Scores in the thousands give no NaN or inf, and values as right as for ordinary scores (a stable softmax).

    15 examples: integer Q and K entries up to 40 in size, d_k in 1, 4, 16 (so that the scores are
    exact in float32 too), no mask or a bool padding mask.  The values must match the reference
    unless the function is also wrong on the same shapes with ordinary inputs (sdpa_values reports
    that): only large-score trouble counts here.
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case)
        problem = _shape_problem(got, case)
        if problem:
            raise CheckFailed(f"{case}\n{problem}")
        if not _finite(got["weights"], got["output"]):
            scores = np.abs(case.arrays["Q"].astype(np.float64) @ np.swapaxes(case.arrays["K"], -1, -2)).max()
            raise CheckFailed(f"{case}\nwith scores up to {scores / math.sqrt(case.head_dim):.4g} your weights or "
                              "output contain NaN or inf: exp overflows. Use torch.softmax (or subtract each row's "
                              "maximum before exp).")
        expected_output, expected_weights = sdpa_variant(case)
        if _close(got["weights"], expected_weights) and _close(got["output"], expected_output):
            return
        ordinary = replace(case, large=False)
        small = run_sdpa(student, ordinary)
        small_output, small_weights = sdpa_variant(ordinary)
        if _close(small["weights"], small_weights) and _close(small["output"], small_output):
            try:
                _compare_sdpa(case, got)
            except CheckFailed as exc:
                raise CheckFailed(f"{exc}\nYour function is right for ordinary scores but not for large ones.") from None

    for_all(sdpa_cases(("none", "padding"), large=True), test, examples=15)


@check("sdpa_gradients", part=PART, test_cell=SDPA_CELL, points=1)
@_one_thread
def sdpa_gradients(student: Student) -> None:
    """Gradients flow through the output and the weights to Q, K and V, and equal the reference's.

    15 examples (no mask, bool padding or causal masks), backpropagating sum(output * g) + sum(weights * g').
    The gradients' values are compared where the forward values are right (elsewhere other checks
    report the mistake, and only the flow of gradients is judged).
    """
    def test(case: SdpaCase) -> None:
        got = run_sdpa(student, case, grads=True)
        problem = _shape_problem(got, case)
        if problem:
            raise CheckFailed(f"{case}\n{problem}")
        intro = f"{case}\nbackpropagating sum(output * g) + sum(weights * g'):\n"
        for key, what in (("output", "output"), ("weights", "attention weights")):
            if not got[f"{key}_requires_grad"]:
                raise CheckFailed(f"{intro}no gradient can flow back through the {what} you return: it is detached "
                                  "from the graph (.detach(), .data, torch.no_grad(), .numpy() or a new tensor built "
                                  "from numbers); compute it with torch operations on Q, K, V")
        missing = [name for name in "QKV" if got.get(f"grad_{name}") is None]
        if missing:
            raise CheckFailed(f"{intro}no gradient reaches {', '.join(missing)}")
        expected_output, expected_weights = sdpa_variant(case)
        if not (_close(got["weights"], expected_weights) and _close(got["output"], expected_output)):
            return
        expected = sdpa_gradients_reference(case)
        for name in "QKV":
            if not _close(got[f"grad_{name}"], expected[name]):
                raise CheckFailed(intro + describe_mismatch(f"the gradient with respect to {name}", expected[name],
                                                            got[f"grad_{name}"]))

    for_all(sdpa_cases(("none", "padding", "causal")), test, examples=15)


def sdpa_gradients_reference(case: SdpaCase) -> dict[str, np.ndarray]:
    data = case.arrays
    leaves = [_double(data[name]).requires_grad_() for name in "QKV"]
    output, weights = reference.scaled_dot_product_attention(*leaves, _torch(data["mask"]))
    total = (output * _double(data["grad_output"])).sum() + (weights * _double(data["grad_weights"])).sum()
    total.backward()
    return {name: leaf.grad.numpy() for name, leaf in zip("QKV", leaves)}


@check("sdpa_inputs_unchanged", part=PART, test_cell=SDPA_CELL, points=1)
@_one_thread
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


# ----------------------------------------------------------------------------------------------
# MultiHeadAttention: cases and reference

LAYERS = ("W_q", "W_k", "W_v", "W_o")


@dataclass(frozen=True)
class MhaCase:
    batch: int
    length: int
    heads: int
    head_dim: int
    mask: str = "none"
    dtype: str = "bool"
    seed: int = 0

    @property
    def embed_dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def context_shape(self) -> tuple[int, ...]:
        return (self.batch, self.length, self.embed_dim)

    @property
    def weights_shape(self) -> tuple[int, ...]:
        return (self.batch, self.heads, self.length, self.length)

    @cached_property
    def arrays(self) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.embed_dim, self.length])
        E = self.embed_dim
        parameters = {}
        for name in LAYERS:
            parameters[f"{name}.weight"] = (rng.standard_normal((E, E)) / math.sqrt(E)).astype(np.float32)
            parameters[f"{name}.bias"] = (0.5 * rng.standard_normal(E)).astype(np.float32)
        mask = None
        if self.mask != "none":
            mask = make_keep(self.mask, self.batch, self.heads, self.length, self.length, rng).astype(self.dtype)
        return {"parameters": parameters, "x": rounded_normal(rng, self.context_shape), "mask": mask,
                "grad_output": rounded_normal(rng, self.context_shape),
                "grad_weights": rounded_normal(rng, self.weights_shape)}

    def request(self, grads: bool = False, our_attention: bool = False) -> dict[str, Any]:
        data = self.arrays
        request = dict(embed_dim=self.embed_dim, num_heads=self.heads, parameters=data["parameters"], x=data["x"],
                       mask=data["mask"], our_attention=our_attention)
        if grads:
            request.update(grad_output=data["grad_output"], grad_weights=data["grad_weights"])
        return request

    def __str__(self) -> str:
        return (f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.heads}) (head_dim {self.head_dim}) "
                f"with given W_q, W_k, W_v, W_o, in eval mode, on x of shape {self.context_shape}, "
                f"{describe_mask(self.arrays['mask'], self.mask).replace('q_len', 'seq_len').replace('k_len', 'seq_len')}")


def mha_cases(masks: tuple[str, ...] = ("none",), dtypes: tuple[str, ...] = ("bool",)) -> st.SearchStrategy[MhaCase]:
    return st.builds(MhaCase, batch=st.integers(1, 3), length=st.integers(1, 6), heads=st.integers(1, 4),
                     head_dim=st.integers(1, 4), mask=st.sampled_from(masks), dtype=st.sampled_from(dtypes),
                     seed=st.integers(0, 2**16))


def reference_module(case: MhaCase) -> reference.MultiHeadAttention:
    module = reference.MultiHeadAttention(case.embed_dim, case.heads).double().eval()
    module.load_state_dict({name: _double(value) for name, value in case.arrays["parameters"].items()})
    return module


@lru_cache(maxsize=128)
def mha_expected(case: MhaCase, grads: bool = False, masked: bool = True) -> dict[str, Any]:
    """The reference module's context and weights for ``case`` (and its gradients); ``masked=False``: without the mask."""
    data = case.arrays
    module = reference_module(case)
    x = _double(data["x"]).requires_grad_(grads)
    context, weights = module(x, _torch(data["mask"]) if masked else None)
    result = {"context": context.detach().numpy(), "weights": weights.detach().numpy()}
    if grads:
        total = (context * _double(data["grad_output"])).sum() + (weights * _double(data["grad_weights"])).sum()
        total.backward()
        result["grad_x"] = x.grad.numpy()
        for name in LAYERS:
            layer = getattr(module, name)
            result[f"grad_{name}.weight"] = layer.weight.grad.numpy()
            result[f"grad_{name}.bias"] = layer.bias.grad.numpy()
    return result


def mha_variant(case: MhaCase, *, split: str = "transpose", merge: str = "transpose", w_o: bool = True,
                scale: str = "head", swap_qk: bool = False, project_v: bool = True,
                use_mask: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(context, weights) in float64 for a known way of getting the module wrong."""
    data = case.arrays
    p = {name: _double(value) for name, value in data["parameters"].items()}
    x = _double(data["x"])
    b, L, E, h, d = case.batch, case.length, case.embed_dim, case.heads, case.head_dim

    def project(name: str) -> torch.Tensor:
        return F.linear(x, p[f"{name}.weight"], p[f"{name}.bias"])

    def heads(t: torch.Tensor) -> torch.Tensor:
        return t.view(b, L, h, d).transpose(1, 2) if split == "transpose" else t.reshape(b, h, L, d)

    Q, K = heads(project("W_q")), heads(project("W_k"))
    V = heads(project("W_v") if project_v else x)
    if swap_qk:
        Q, K = K, Q
    divisor = {"head": math.sqrt(d), "embed": math.sqrt(E), "none": 1.0, "head_dim": float(d)}[scale]
    scores = Q @ K.transpose(-2, -1) / divisor
    mask = _torch(data["mask"])
    if mask is not None and use_mask:
        scores = scores.masked_fill(mask == 0, FILL)
    weights = F.softmax(scores, dim=-1)
    context = weights @ V
    context = context.transpose(1, 2).reshape(b, L, E) if merge == "transpose" else context.reshape(b, L, E)
    if w_o:
        context = F.linear(context, p["W_o.weight"], p["W_o.bias"])
    return context.numpy(), weights.numpy()


MHA_MISTAKES: tuple[tuple[dict[str, Any], str], ...] = (
    ({"split": "view", "merge": "view"}, "the heads are split with .view(batch, num_heads, seq_len, head_dim) and merged "
     "with .view(batch, seq_len, embed_dim), without transposing: split with .view(batch, seq_len, num_heads, "
     "head_dim).transpose(1, 2), and merge with .transpose(1, 2) first, then .reshape(batch, seq_len, embed_dim)"),
    ({"split": "view"}, "the heads are split with .view(batch, num_heads, seq_len, head_dim), which mixes positions "
     "with features: use .view(batch, seq_len, num_heads, head_dim).transpose(1, 2)"),
    ({"merge": "view"}, "the heads are merged with .view(batch, seq_len, embed_dim) straight from (batch, heads, "
     "seq_len, head_dim): transpose(1, 2) back to (batch, seq_len, heads, head_dim) first, then reshape"),
    ({"w_o": False}, "W_o is not applied to the merged heads"),
    ({"scale": "embed"}, "the scores are divided by sqrt(embed_dim) instead of sqrt(head_dim)"),
    ({"scale": "none"}, "the scores are not divided by sqrt(head_dim)"),
    ({"scale": "head_dim"}, "the scores are divided by head_dim instead of sqrt(head_dim)"),
    ({"swap_qk": True}, "the queries come from W_k and the keys from W_q"),
    ({"project_v": False}, "the values are x itself: W_v is not applied"),
    ({"use_mask": False}, "the mask does not reach the attention: pass it on to scaled_dot_product_attention"),
)


def diagnose_mha(case: MhaCase, got: Any, what: str) -> str:
    index = 0 if what == "context" else 1
    for options, words in MHA_MISTAKES:
        if "use_mask" in options and case.arrays["mask"] is None:
            continue
        if _close(got, mha_variant(case, **options)[index]):
            subject = "context vector is" if what == "context" else "attention weights are"
            return f"\nYour {subject} what you get when {words}."
    return ""


FALLBACK_NOTE = ("passes with the notebook's scaled_dot_product_attention standing in for yours (yours has a mistake "
                 "that the test_sdpa checks report; it is not counted twice)")
Again = Callable[..., dict[str, Any]]
Judge = Callable[[dict[str, Any], Again], "str | None"]


class ModuleJudge:
    """Runs a module check's cases: with the student's attention function, then with the notebook's if that fails.

    A judge gets what the probe returned and ``again(**changes)``, which calls the same probe
    (with the same attention function) on a changed request; it returns None or what is wrong.
    """

    def __init__(self, student: Student, probe: str = "mha") -> None:
        self.student, self.probe = student, probe
        self.fallbacks = 0

    def attempt(self, request: dict[str, Any], judge: Judge) -> str | None:
        def again(**changes: Any) -> dict[str, Any]:
            return self.student.call(self.probe, **{**request, **changes})

        try:
            return judge(self.student.call(self.probe, **request), again)
        except StudentError as exc:
            return f"your code raised:\n{exc}"

    def __call__(self, case: Any, request: Callable[[bool], dict[str, Any]], judge: Judge) -> None:
        own = self.attempt(request(False), judge)
        if own is None:
            return
        ours = self.attempt(request(True), judge)
        if ours is None:
            self.fallbacks += 1
            return
        if ours != own:
            ours = ("(run with the notebook's scaled_dot_product_attention in place of yours, so that only "
                    f"MultiHeadAttention counts here)\n{ours}")
        raise CheckFailed(f"{case}:\n{ours}")

    def note(self) -> str | None:
        return FALLBACK_NOTE if self.fallbacks else None


def _mha_shape_problem(case: MhaCase, got: dict[str, Any]) -> str | None:
    for key, what, shape, names in (("context", "context vector", case.context_shape, "(batch, seq_len, embed_dim)"),
                                    ("weights", "attention weights", case.weights_shape,
                                     "(batch, num_heads, seq_len, seq_len)")):
        if tuple(np.shape(got[key])) != shape:
            return f"the {what} has shape {tuple(np.shape(got[key]))}; expected {shape} = {names}"
    return None


def _mha_weights_problem(case: MhaCase, got: dict[str, Any]) -> str | None:
    expected = mha_expected(case)["weights"]
    if _close(got["weights"], expected):
        return None
    return (describe_mismatch("the attention weights", expected, got["weights"])
            + diagnose_mha(case, got["weights"], "weights"))


def _mha_context_problem(case: MhaCase, got: dict[str, Any]) -> str | None:
    expected = mha_expected(case)["context"]
    if _close(got["context"], expected):
        return None
    return (describe_mismatch("the context vector", expected, got["context"])
            + diagnose_mha(case, got["context"], "context"))


def _forward_right(case: MhaCase, got: dict[str, Any], masked: bool = True) -> bool:
    expected = mha_expected(case, masked=masked)
    return _close(got["weights"], expected["weights"]) and _close(got["context"], expected["context"])


def _run_module_check(student: Student, cases: st.SearchStrategy[MhaCase], examples: int,
                      judge: Callable[[MhaCase, dict[str, Any], Again], str | None], grads: bool = False) -> str | None:
    runner = ModuleJudge(student)
    for_all(cases, lambda case: runner(case, lambda ours: case.request(grads, ours),
                                       lambda got, again: judge(case, got, again)), examples=examples)
    return runner.note()


# ----------------------------------------------------------------------------------------------
# MultiHeadAttention: checks (test_mha, 15 points)

@check("mha_shapes", part=PART, test_cell=MHA_CELL, points=2)
@_one_thread
def mha_shapes(student: Student) -> str | None:
    """forward returns the context (batch, seq_len, embed_dim) and the weights (batch, heads, seq_len, seq_len), float32.

    20 examples: batch 1-3, seq_len 1-6, num_heads 1-4, head_dim 1-4, no mask.
    """
    def judge(case: MhaCase, got: dict[str, Any], again: Again) -> str | None:
        problem = _mha_shape_problem(case, got)
        if problem:
            return problem
        for key, what in (("context", "context vector"), ("weights", "attention weights")):
            if got[key].dtype != np.float32:
                return f"the {what} has dtype {got[key].dtype}; x and the parameters are float32, so it should be too"
        return None

    return _run_module_check(student, mha_cases(), 20, judge)


@check("mha_weights_distribution", part=PART, test_cell=MHA_CELL, points=1)
@_one_thread
def mha_weights_distribution(student: Student) -> str | None:
    """The weights forward returns are, in every head, rows of a probability distribution over the keys.

    10 examples, without a mask and with bool padding and causal masks.
    """
    def judge(case: MhaCase, got: dict[str, Any], again: Again) -> str | None:
        weights = np.asarray(got["weights"], dtype=np.float64)
        if weights.shape != case.weights_shape:
            return (f"the attention weights have shape {weights.shape}; expected {case.weights_shape} = "
                    "(batch, num_heads, seq_len, seq_len)")
        if not _finite(weights) or weights.min() < -LEAK:
            return "the attention weights contain negative numbers, NaN or inf"
        sums = weights.sum(axis=-1)
        worst = np.unravel_index(int(np.argmax(np.abs(sums - 1.0))), sums.shape)
        if abs(sums[worst] - 1.0) > 10 * ATOL:
            return (f"the weights of query {_index(worst)} sum to {sums[worst]:.6g}, not 1: return the weights "
                    "scaled_dot_product_attention gives, softmax over the keys")
        return None

    return _run_module_check(student, mha_cases(("none", "padding", "causal")), 10, judge)


@check("mha_attention_weights", part=PART, test_cell=MHA_CELL, points=3)
@_one_thread
def mha_attention_weights(student: Student) -> str | None:
    """With the reference's W_q, W_k, W_v, W_o copied in (eval mode), the weights equal the reference's.

    20 examples, no mask: this checks the projections W_q and W_k, the split into heads and the scaling.
    """
    return _run_module_check(student, mha_cases(), 20, lambda case, got, again: (
        _mha_shape_problem(case, got) or _mha_weights_problem(case, got)))


@check("mha_context", part=PART, test_cell=MHA_CELL, points=3)
@_one_thread
def mha_context(student: Student) -> str | None:
    """With the reference's W_q, W_k, W_v, W_o copied in (eval mode), the context equals the reference's.

    20 examples, no mask: this checks W_v, the merge of the heads (back in order) and W_o.
    """
    return _run_module_check(student, mha_cases(), 20, lambda case, got, again: (
        _mha_shape_problem(case, got) or _mha_context_problem(case, got)))


@check("mha_mask", part=PART, test_cell=MHA_CELL, points=2)
@_one_thread
def mha_mask(student: Student) -> str | None:
    """A mask of every shape and dtype reaches every head: masked keys get zero weight, values as the reference.

    5 examples for each mask shape (padding (batch, 1, 1, seq), causal (seq, seq) and (1, 1, seq, seq),
    full (batch, heads, seq, seq)), the dtype drawn from bool, int64, int32, float32.  A module that
    is wrong without a mask too (other checks report that) is judged on the masking of its weights
    only: they must be its unmasked weights restricted to the kept keys and renormalized.
    """
    def judge(case: MhaCase, got: dict[str, Any], again: Again) -> str | None:
        problem = _mha_shape_problem(case, got)
        if problem:
            return problem
        if _forward_right(case, got):
            return None
        keep = np.broadcast_to(case.arrays["mask"] != 0, case.weights_shape)
        weights = np.nan_to_num(np.asarray(got["weights"], dtype=np.float64), nan=1.0)
        leak = None
        if not keep.all():
            leaked = np.where(keep, 0.0, np.abs(weights))
            worst = np.unravel_index(int(np.argmax(leaked)), leaked.shape)
            if leaked[worst] > LEAK:
                leak = (f"the key at weights{_index(worst)} has mask == 0 but gets weight {weights[worst]:.4g}: pass "
                        "the mask, as given, on to scaled_dot_product_attention")
        own = again(mask=None)
        if _mha_shape_problem(case, own) is None and _forward_right(case, own, masked=False):
            if leak:
                return leak + diagnose_mha(case, got["weights"], "weights")
            return _mha_weights_problem(case, got) or _mha_context_problem(case, got)
        if _distributions(own["weights"], case.weights_shape):
            expected = _renormalized(own["weights"], keep)
            if _close(got["weights"], expected):
                return None
            return f"{leak or describe_mismatch('the attention weights', expected, got['weights'])}\n{RELATIVE_NOTE}"
        return leak if not _neutralized(got["weights"], ~keep) else None

    runner = ModuleJudge(student)
    for kind in MASK_KINDS:
        for_all(mha_cases((kind,), MASK_DTYPES),
                lambda case: runner(case, lambda ours: case.request(False, ours),
                                    lambda got, again: judge(case, got, again)),
                examples=5)
    return runner.note()


@check("mha_gradients", part=PART, test_cell=MHA_CELL, points=2)
@_one_thread
def mha_gradients(student: Student) -> str | None:
    """Gradients reach x and every weight and bias of W_q, W_k, W_v, W_o, and equal the reference's.

    15 examples (no mask or a bool padding mask), backpropagating sum(context * g) + sum(weights * g').
    Where the forward values are wrong (other checks report that) only the flow of gradients to x
    and through both outputs is judged.
    """
    def judge(case: MhaCase, got: dict[str, Any], again: Again) -> str | None:
        problem = _mha_shape_problem(case, got)
        if problem:
            return problem
        intro = "backpropagating sum(context * g) + sum(weights * g'):\n"
        for key, what in (("context", "context vector"), ("weights", "attention weights")):
            if not got[f"{key}_requires_grad"]:
                return (f"{intro}no gradient can flow back through the {what} you return: it is detached from the "
                        "graph (.detach(), .data, torch.no_grad(), or a tensor rebuilt from numbers)")
        names = ["x"] + [f"{layer}.{kind}" for layer in LAYERS for kind in ("weight", "bias")]
        if not _forward_right(case, got):
            names = ["x"]
        missing = [name for name in names if got.get(f"grad_{name}") is None]
        if missing:
            return (f"{intro}no gradient reaches {', '.join(missing)}: is it used in forward, through torch "
                    "operations (no .detach(), .data or numpy on the way)?")
        if len(names) == 1:
            return None
        expected = mha_expected(case, grads=True)
        wrong = [name for name in names if not _close(got[f"grad_{name}"], expected[f"grad_{name}"])]
        if wrong:
            first = wrong[0]
            also = f" (also wrong: {', '.join(wrong[1:])})" if wrong[1:] else ""
            return intro + describe_mismatch(f"the gradient with respect to {first}", expected[f"grad_{first}"],
                                             got[f"grad_{first}"]) + also
        return None

    return _run_module_check(student, mha_cases(("none", "padding")), 15, judge, grads=True)


@dataclass(frozen=True)
class SizesCase:
    heads: int
    head_dim: int
    sizes: tuple[tuple[int, int], ...]    # (batch, seq_len) of each call, in order
    seed: int

    def calls(self) -> list[MhaCase]:
        return [MhaCase(batch, length, self.heads, self.head_dim, seed=self.seed) for batch, length in self.sizes]

    def request(self, ours: bool) -> dict[str, Any]:
        first = self.calls()[0]
        return dict(embed_dim=first.embed_dim, num_heads=self.heads, parameters=first.arrays["parameters"],
                    xs=[case.arrays["x"] for case in self.calls()], our_attention=ours)

    def __str__(self) -> str:
        shapes = ", ".join(f"({b}, {n}, {self.heads * self.head_dim})" for b, n in self.sizes)
        return (f"one MultiHeadAttention(embed_dim={self.heads * self.head_dim}, num_heads={self.heads}) with given "
                f"W_q, W_k, W_v, W_o, in eval mode, called in turn on x of shapes {shapes}, mask=None")


sizes_cases = st.builds(SizesCase, heads=st.integers(1, 4), head_dim=st.integers(1, 4),
                        sizes=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 8)), min_size=2, max_size=4,
                                       unique=True).map(tuple),
                        seed=st.integers(0, 2**16))


def _same(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(_close(got[key], np.asarray(expected[key], dtype=np.float64)) for key in ("context", "weights"))


def _expected_with(parameters_case: MhaCase, call: MhaCase) -> dict[str, np.ndarray]:
    module = reference_module(parameters_case)
    context, weights = module(_double(call.arrays["x"]), None)
    return {"context": context.detach().numpy(), "weights": weights.detach().numpy()}


@check("mha_any_shape", part=PART, test_cell=MHA_CELL, points=1)
@_one_thread
def mha_any_shape(student: Student) -> str | None:
    """One module works on inputs of any batch size and sequence length, called one after another.

    6 examples of 2-4 calls each (batch 1-5, seq_len 1-8): no size may be fixed at construction
    time or kept from an earlier call.  Each call must give the reference's values or, for a module
    that is wrong anyway (other checks report that), what a fresh module gives on that input alone.
    """
    def judge(case: SizesCase, got: dict[str, Any], again: Again) -> str | None:
        first = case.calls()[0]     # whose parameters every call uses
        if len(got["calls"]) != len(case.sizes):
            return f"{len(got['calls'])} results for {len(case.sizes)} calls"
        for number, (call, result) in enumerate(zip(case.calls(), got["calls"]), start=1):
            expected = _expected_with(first, call)
            if _same(result, expected):
                continue
            fresh = again(xs=[call.arrays["x"]])["calls"][0]
            if _same(result, fresh):
                continue        # wrong, but as wrong as a fresh module: the other checks' business
            key = "context" if not _close(result["context"], expected["context"]) else "weights"
            what = "context vector" if key == "context" else "attention weights"
            hint = (" A fresh module gives the right answer on this input alone: does your module keep sizes or "
                    "tensors from an earlier call?" if _same(fresh, expected) else "")
            return (f"call {number}, on x of shape {call.context_shape}: "
                    + describe_mismatch(f"the {what}", expected[key], result[key]) + "." + hint)
        return None

    runner = ModuleJudge(student, "mha_sequence")
    for_all(sizes_cases, lambda case: runner(case, case.request, lambda got, again: judge(case, got, again)),
            examples=6)
    return runner.note()


@check("mha_inputs_unchanged", part=PART, test_cell=MHA_CELL, points=1)
@_one_thread
def mha_inputs_unchanged(student: Student) -> str | None:
    """forward leaves x and the mask as they were (nothing is modified in place).

    10 examples, without a mask and with bool masks of every shape.
    """
    def judge(case: MhaCase, got: dict[str, Any], again: Again) -> str | None:
        for name in ("x", "mask"):
            before = case.arrays[name]
            after = got.get(f"{name}_after")
            if before is not None and (after is None or after.shape != before.shape or not np.array_equal(after, before)):
                return (f"forward changed its argument {name} in place (an in-place operation such as `{name} += ...` "
                        f"or `{name}.masked_fill_(...)`); compute new tensors instead, the caller still needs {name}")
        return None

    return _run_module_check(student, mha_cases(("none",) + MASK_KINDS), 10, judge)
