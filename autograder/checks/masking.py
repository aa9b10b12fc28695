"""The masks Part A's cases use, and the one rule that judges masking, for the function and the module.

Masks follow the notebook's broadcast shapes (padding ``(batch, 1, 1, k)``, causal ``(q, k)`` and
``(1, 1, q, k)``, full ``(batch, heads, q, k)``), holding 0/1 values in bool, int64, int32 or
float32.  The function gets every shape (A.1: a mask broadcasts against the scores); the module
only the shapes the notebook names (:data:`MODULE_MASK_KINDS`): A.2 does not say that forward
takes a per-head ``(batch, heads, seq, seq)`` mask, and a per-head loop that hands each head the
same mask is right for the others.  Only ``sdpa_fully_masked_rows`` and ``mha_mask``'s fully
padded sequences use masks with a query whose every key is masked; the other checks keep at least
one key per query, so that implementations which differ only there (``-inf`` fills, additive masks)
lose those points only.

The rule (:func:`masking_problem`), used by ``sdpa_mask``, ``sdpa_mask_dtypes`` and ``mha_mask``
once the values with the mask are known to be wrong:

1. code that is right without the mask must give the reference's masked values; a masked key
   that gets weight (more than ``LEAK``, :func:`leaking_key`) is reported first;
2. code that is wrong without the mask too (other checks report that) but gives rows of
   probabilities there is judged on its masking only: masking with -1e9 before the softmax
   must turn its unmasked weights into the same weights restricted to the kept keys and
   renormalized (:func:`renormalized`);
3. other code is judged only on masked keys getting no weight (or, for code that returns
   scores, a hugely negative score).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from autograder.assignment import reference
from autograder.checks.compare import FLOAT32_VS_FLOAT64, all_finite, tensor_literal

LEAK = 1e-6                      # the most weight a masked key may get
SUM_TOLERANCE = 10 * FLOAT32_VS_FLOAT64.atol    # how far from 1 a row of weights may sum
FILL = reference.MASK_FILL
MASK_KINDS = ("padding", "causal", "causal4d", "full")
MODULE_MASK_KINDS = ("padding", "causal", "causal4d")
MASK_DTYPES = ("bool", "int64", "int32", "float32")
MASK_SHAPES = {"padding": "(batch, 1, 1, k_len), a padding mask", "causal": "(q_len, k_len), a causal mask",
               "causal4d": "(1, 1, q_len, k_len), a causal mask", "full": "(batch, heads, q_len, k_len)"}
RELATIVE_NOTE = ("(Your function is wrong without a mask too, which other checks report; here only the mask is judged: "
                 "masking with -1e9 before the softmax should turn your unmasked weights into the same weights "
                 "restricted to the kept keys and renormalized.)")


def make_keep(kind: str, batch: int, heads: int, q_len: int, k_len: int, rng: np.random.Generator, *,
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


def describe_mask(mask: np.ndarray | None, kind: str) -> str:
    if mask is None:
        return "mask=None"
    text = f"a {mask.dtype.name} mask of shape {tuple(mask.shape)} = {MASK_SHAPES[kind]}"
    if mask.size <= 64:
        text += f": mask = {tensor_literal(mask)}"
    else:
        text += f" ({int((mask == 0).sum())} of {mask.size} entries are 0)"
    return text


def kept(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Where the mask lets a query look, broadcast to the weights' ``shape``."""
    return np.broadcast_to(mask != 0, shape)


def leaking_key(weights: Any, masked: np.ndarray, *, filled_scores_count: bool = False) -> tuple | None:
    """The index of the masked entry with the most weight above ``LEAK`` (NaN counts as 1), None if there is none.

    With ``filled_scores_count``, a hugely negative entry (a score filled with -1e9, no softmax after) does not leak.
    """
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64), nan=1.0)
    ignored = np.abs(w) <= LEAK
    if filled_scores_count:
        ignored |= w <= FILL / 2
    leaking = masked & ~ignored
    if not leaking.any():
        return None
    return np.unravel_index(int(np.argmax(np.where(leaking, np.abs(w), -1.0))), w.shape)


def are_distributions(weights: Any, shape: tuple[int, ...]) -> bool:
    """Whether ``weights`` has ``shape`` and each of its rows is a probability distribution."""
    if weights is None or np.shape(weights) != shape:
        return False
    w = np.asarray(weights, dtype=np.float64)
    return all_finite(w) and float(w.min(initial=0.0)) >= -LEAK and bool(
        np.all(np.abs(w.sum(axis=-1) - 1.0) <= SUM_TOLERANCE))


def renormalized(weights: Any, keep: np.ndarray) -> np.ndarray:
    """Unmasked weights restricted to the kept keys and renormalized: what masking with -1e9 does to a softmax."""
    kept_weights = np.asarray(weights, dtype=np.float64) * keep
    totals = kept_weights.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, kept_weights / totals, np.nan)


def masking_problem(weights: Any, keep: np.ndarray, unmasked_weights: Any, *, right_without_mask: bool,
                    against_reference: Callable[[], str | None],
                    against_renormalized: Callable[[np.ndarray], str | None],
                    leak: Callable[[], str]) -> str | None:
    """What is wrong with masked ``weights`` that are not the reference's, by the rule above (None: nothing).

    ``against_reference`` reports step 1 (the leak first), ``against_renormalized`` compares with the
    expected weights of step 2, ``leak`` words the leaking key of step 3.
    """
    if right_without_mask:
        return against_reference()
    if are_distributions(unmasked_weights, keep.shape):
        problem = against_renormalized(renormalized(unmasked_weights, keep))
        return None if problem is None else f"{problem}\n{RELATIVE_NOTE}"
    if leaking_key(weights, ~keep, filled_scores_count=True) is None:
        return None
    return leak()
