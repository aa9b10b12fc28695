"""The probes of test cell ``test_mha``: build and run the student's MultiHeadAttention, report what it returns.

Nothing here judges: the grader compares what comes back with its float64 reference.  Inputs are
handed over as in :mod:`autograder.probes.sdpa`.

``mha`` and ``mha_sequence`` can run the student's module with the notebook's formula for
``scaled_dot_product_attention`` bound in its namespace in place of theirs (``our_attention=True``),
so that the grader can tell a mistake in MultiHeadAttention from one in the function it calls.
That stand-in is written here rather than imported from ``autograder.assignment.reference``: the worker seals
the reference module (the model answers) before the student's code runs, and the stand-in reveals
no more than the notebook's own text (the formula and the -1e9 convention).

``mha_layout`` names the layers built without a bias; the grader then sends zero biases for them,
which is all ``load_attention_parameters`` lets such a layer take.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.probes import (
    ATTENTION_LAYERS,
    StudentAPIError,
    as_left,
    backpropagate_outputs,
    defined_by_student,
    grad_of,
    probe,
    student_inputs,
    tensor,
    to_array,
    unpack_pair,
)
from autograder.probes.sdpa import SDPA_NAME

_MISSING = object()


def notebook_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                       mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(d_k)) V with scores -1e9 where mask == 0, as the notebook states it."""
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = torch.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights


def build_attention(namespace: dict[str, Any], embed_dim: int, num_heads: int) -> nn.Module:
    module = defined_by_student(namespace, "MultiHeadAttention")(embed_dim, num_heads)
    if not isinstance(module, nn.Module):
        raise StudentAPIError("MultiHeadAttention(...) should build an nn.Module")
    for name in ATTENTION_LAYERS:
        layer = getattr(module, name, None)
        if not isinstance(layer, nn.Linear) or tuple(layer.weight.shape) != (embed_dim, embed_dim):
            raise StudentAPIError(f"MultiHeadAttention.{name} should be nn.Linear(embed_dim, embed_dim)")
    return module


def load_attention_parameters(module: nn.Module, parameters: dict[str, np.ndarray], prefix: str = "") -> None:
    """Copy the given weights and biases in; a layer without a bias can only take a zero one (what the
    grader sends for the layers ``mha_layout`` named)."""
    with torch.no_grad():
        for name in ATTENTION_LAYERS:
            layer = getattr(module, name)
            layer.weight.copy_(torch.from_numpy(parameters[f"{prefix}{name}.weight"]))
            bias = parameters[f"{prefix}{name}.bias"]
            if layer.bias is not None:
                layer.bias.copy_(torch.from_numpy(bias))
            elif np.any(bias != 0):
                raise StudentAPIError(f"MultiHeadAttention.{name} has no bias (and had one when first built); "
                                      "the notebook asks for nn.Linear(embed_dim, embed_dim), which has one")


@contextmanager
def _attention_function(namespace: dict[str, Any], ours: bool) -> Iterator[None]:
    """With ``ours``, the notebook's attention stands in for the student's while the module is built and run."""
    if not ours:
        yield
        return
    saved = namespace.get(SDPA_NAME, _MISSING)
    namespace[SDPA_NAME] = notebook_attention
    try:
        yield
    finally:
        if saved is _MISSING:
            namespace.pop(SDPA_NAME, None)
        else:
            namespace[SDPA_NAME] = saved


def _built(namespace: dict[str, Any], embed_dim: int, num_heads: int, parameters: dict[str, np.ndarray]) -> nn.Module:
    torch.manual_seed(0)
    module = build_attention(namespace, embed_dim, num_heads)
    load_attention_parameters(module, parameters)
    module.eval()
    return module


@probe
def mha_layout(namespace: dict[str, Any], embed_dim: int, num_heads: int) -> dict[str, Any]:
    """Which of W_q, W_k, W_v, W_o the student's module builds without a bias (the grader then sends zero ones)."""
    torch.manual_seed(0)
    module = build_attention(namespace, embed_dim, num_heads)
    return {"without_bias": [name for name in ATTENTION_LAYERS if getattr(module, name).bias is None]}


@probe
def mha(namespace: dict[str, Any], embed_dim: int, num_heads: int, parameters: dict[str, np.ndarray],
        x: np.ndarray, mask: np.ndarray | None = None, grad_output: np.ndarray | None = None,
        grad_weights: np.ndarray | None = None, our_attention: bool = False) -> dict[str, Any]:
    """Build MultiHeadAttention with the given W_q/W_k/W_v/W_o, run it in eval mode, backpropagate."""
    with _attention_function(namespace, our_attention):
        module = _built(namespace, embed_dim, num_heads, parameters)
        wants_grad = grad_output is not None or grad_weights is not None
        leaves, (inputs,) = student_inputs((x,), wants_grad)
        m = tensor(mask)
        context, weights = unpack_pair(module(inputs, m), "MultiHeadAttention.forward")
        result: dict[str, Any] = {"context": to_array(context, "the context vector"),
                                  "weights": to_array(weights, "the attention weights"),
                                  "x_after": as_left(inputs), "mask_after": as_left(m)}
        if wants_grad:
            backpropagate_outputs(result, [("context", context, grad_output), ("weights", weights, grad_weights)])
            result["grad_x"] = grad_of(leaves[0])
            for name in ATTENTION_LAYERS:
                layer = getattr(module, name)
                result[f"grad_{name}.weight"] = grad_of(layer.weight)
                result[f"grad_{name}.bias"] = None if layer.bias is None else grad_of(layer.bias)
    return result


@probe
def mha_sequence(namespace: dict[str, Any], embed_dim: int, num_heads: int, parameters: dict[str, np.ndarray],
                 xs: list[np.ndarray], our_attention: bool = False) -> dict[str, Any]:
    """One MultiHeadAttention (given parameters, eval mode) called on several inputs in turn, without a mask."""
    with _attention_function(namespace, our_attention):
        module = _built(namespace, embed_dim, num_heads, parameters)
        calls = []
        for x in xs:
            context, weights = unpack_pair(module(tensor(x), None), "MultiHeadAttention.forward")
            calls.append({"context": to_array(context, "the context vector"),
                          "weights": to_array(weights, "the attention weights")})
    return {"calls": calls}
