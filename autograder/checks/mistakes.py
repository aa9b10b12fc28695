"""The catalogue of Part A's known mistakes, and the diagnosis of a failure by them.

Each mistake is a known wrong variant of the reference, computed here on the case's inputs; when
what the student's code returned is what a mistake gives (within the usual tolerance), the
failure message names that mistake in words.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autograder.checks.cases import MhaCase, SdpaCase, as_float64_tensor, as_tensor, sdpa_expected
from autograder.checks.compare import FLOAT32_VS_FLOAT64, close
from autograder.checks.masking import FILL

SDPA_MISTAKES = {
    "scale_dk": "the scores are divided by d_k instead of sqrt(d_k)",
    "no_scale": "the scores Q K^T are not divided by sqrt(d_k)",
    "scale_times": "the scores are multiplied by sqrt(d_k) instead of divided by it",
    "no_softmax": "these are the scores before the softmax: return softmax(scores, dim=-1) as the weights",
    "mask_ignored": "the mask is ignored",
    "mask_inverted": "the mask is inverted: the keys where mask == 0 must get the score -1e9, those where mask != 0 "
                     "are kept",
    "mask_zero": "masked scores are set to 0 instead of -1e9, so masked keys still get weight",
    "mask_after": "the masked weights are set to 0 after the softmax, so the rows no longer sum to 1: fill the "
                  "scores with -1e9 before the softmax",
}
MASK_MISTAKES = ("mask_ignored", "mask_inverted", "mask_zero", "mask_after")
# A softmax over another axis of the scores (batch, heads, q_len, k_len): sdpa_variant's mistake "softmax_dim<axis>",
# worded by softmax_axis_words (several axes of size 1 give the same weights, so they are named together).
SOFTMAX_AXES = {2: "the query axis", 1: "the heads axis", 0: "the batch axis"}

MHA_MISTAKES: tuple[tuple[dict[str, Any], str], ...] = (
    ({"split": "view", "merge": "view"}, "the heads are split with .view(batch, num_heads, seq_len, head_dim) and "
     "merged with .view(batch, seq_len, embed_dim), without transposing: split with .view(batch, seq_len, num_heads, "
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


def sdpa_variant(case: SdpaCase, mistake: str = "") -> tuple[np.ndarray, np.ndarray]:
    """(output, weights) in float64: the reference's, or what a known mistake gives (a key of SDPA_MISTAKES, or
    ``softmax_dim<axis>`` for an axis of SOFTMAX_AXES)."""
    if not mistake:
        return sdpa_expected(case)
    data = case.arrays
    Q, K, V = (as_float64_tensor(data[name]) for name in "QKV")
    mask = as_tensor(data["mask"])
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
    elif mistake.startswith("softmax_dim"):
        weights = F.softmax(scores, dim=int(mistake.removeprefix("softmax_dim")))
    else:
        weights = F.softmax(scores, dim=-1)
    if mistake == "mask_after" and masked is not None:
        weights = weights.masked_fill(masked, 0.0)
    return (weights @ V).numpy(), weights.numpy()


def softmax_axis_words(axes: list[int]) -> str:
    """The wrong softmax axes that give the student's weights, and what to change."""
    named = " or ".join(f"dim={axis} ({SOFTMAX_AXES[axis]}; dim={axis - 4} counting from the end)" for axis in axes)
    if len(axes) > 1:
        named += " (here these axes have size 1, so each of them gives these weights)"
    return (f"the softmax runs over {named} of the scores (batch, heads, q_len, k_len). Expected: over the keys, "
            "the last axis (dim=-1), so that each query's weights sum to 1: look at the dim= of your softmax")


def diagnose_sdpa(case: SdpaCase, got: Any, what: str = "weights") -> str:
    """A known mistake whose weights (or output) are what the student returned, in words; '' if none is."""
    index = 1 if what == "weights" else 0
    subject = "weights are" if what == "weights" else "output is"
    axes = [axis for axis in SOFTMAX_AXES
            if close(got, sdpa_variant(case, f"softmax_dim{axis}")[index], FLOAT32_VS_FLOAT64)]
    if axes:
        return f"\nYour {subject} what you get when {softmax_axis_words(axes)}."
    for mistake, words in SDPA_MISTAKES.items():
        if mistake in MASK_MISTAKES and case.arrays["mask"] is None:
            continue
        if close(got, sdpa_variant(case, mistake)[index], FLOAT32_VS_FLOAT64):
            return f"\nYour {subject} what you get when {words}."
    return ""


def mha_variant(case: MhaCase, *, split: str = "transpose", merge: str = "transpose", w_o: bool = True,
                scale: str = "head", swap_qk: bool = False, project_v: bool = True,
                use_mask: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(context, weights) in float64 for a known way of getting the module wrong (options of MHA_MISTAKES)."""
    data = case.arrays
    p = {name: as_float64_tensor(value) for name, value in data["parameters"].items()}
    x = as_float64_tensor(data["x"])
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
    mask = as_tensor(data["mask"])
    if mask is not None and use_mask:
        scores = scores.masked_fill(mask == 0, FILL)
    weights = F.softmax(scores, dim=-1)
    context = weights @ V
    context = context.transpose(1, 2).reshape(b, L, E) if merge == "transpose" else context.reshape(b, L, E)
    if w_o:
        context = F.linear(context, p["W_o.weight"], p["W_o.bias"])
    return context.numpy(), weights.numpy()


def diagnose_mha(case: MhaCase, got: Any, what: str) -> str:
    """A known mistake whose context (``what="context"``) or weights are what the module returned; '' if none is."""
    index = 0 if what == "context" else 1
    for options, words in MHA_MISTAKES:
        if "use_mask" in options and case.arrays["mask"] is None:
            continue
        if close(got, mha_variant(case, **options)[index], FLOAT32_VS_FLOAT64):
            subject = "context vector is" if what == "context" else "attention weights are"
            return f"\nYour {subject} what you get when {words}."
    return ""
