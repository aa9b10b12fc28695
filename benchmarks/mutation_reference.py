"""The mutation benchmark's own float64 attention, from the notebook's text (A.1, A.2), shared by its oracles.

Written here, not imported from the grader (``autograder/assignment/reference.py``, ``autograder/checks``):
the benchmark measures the grader, so it must not share the grader's idea of a right answer.
"""
from __future__ import annotations

import math
from typing import Any

import torch

FILL = -1e9                   # the notebook: masked positions "get the score -1e9"
LAYERS = ("W_q", "W_k", "W_v", "W_o")


def reference_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                        mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    scores = (Q @ K.transpose(-2, -1)) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = torch.where(mask == 0, torch.full_like(scores, FILL), scores)
    weights = torch.softmax(scores, dim=-1)
    return weights @ V, weights


def reference_module(params: dict[str, torch.Tensor], x: torch.Tensor, heads: int,
                     mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """A.2's MultiHeadAttention with the given ``W_q.weight``, ``W_q.bias``, ... on ``x``."""
    b, n, e = x.shape

    def project(name: str, t: torch.Tensor) -> torch.Tensor:
        return t @ params[f"{name}.weight"].T + params[f"{name}.bias"]

    Q, K, V = (project(name, x).reshape(b, n, heads, e // heads).permute(0, 2, 1, 3) for name in LAYERS[:3])
    context, weights = reference_attention(Q, K, V, mask)
    return project("W_o", context.permute(0, 2, 1, 3).reshape(b, n, e)), weights


def differ(got: Any, expected: torch.Tensor, rtol: float) -> bool:
    """Whether ``got`` is not ``expected``: another type, shape or dtype, or values out of ``rtol`` (scaled)."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or got.dtype != expected.dtype:
        return True
    expected = expected.detach()
    scale = max(1.0, float(expected.abs().max())) if expected.numel() else 1.0
    return not torch.allclose(got.detach(), expected, rtol=rtol, atol=rtol * scale)
