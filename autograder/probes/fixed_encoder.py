"""Probes for Part B's fix: run the student's FixedTransformerEncoderLayer with given parameters.

The grader sends the parameters of a correct layer under their canonical names (those of the
buggy layer: ``mha.W_q.weight``, ``ffn.0.weight``, ``norm1.bias``, ...).  They are loaded into
the student's layer by name, and parameters whose names differ (an ``ffn`` written with named
submodules, say) are matched by shape, in order.  The layer then runs in float64, in eval or
train mode, with ``torch.manual_seed(seed)`` just before the forward pass so that its dropout
masks are the ones the grader draws for the reference layer.

``build_fixed_layer`` and ``load_layer_parameters`` are also what a probe training the
classifier with given initial parameters would use.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.probes import StudentAPIError, backward, defined_by_student, grad_of, probe, tensor, to_array, unpack_pair

LAYER_CLASS = "FixedTransformerEncoderLayer"


def build_fixed_layer(namespace: dict[str, Any], embed_dim: int, num_heads: int, ffn_dim: int,
                      dropout: float) -> nn.Module:
    """``FixedTransformerEncoderLayer(embed_dim, num_heads, ffn_dim, dropout)``, called as the classifier calls it."""
    layer_cls = defined_by_student(namespace, LAYER_CLASS)
    if not isinstance(layer_cls, type) or not issubclass(layer_cls, nn.Module):
        raise StudentAPIError(f"{LAYER_CLASS} should be a class derived from nn.Module")
    torch.manual_seed(0)
    layer = layer_cls(embed_dim, num_heads, ffn_dim, dropout)
    if not isinstance(layer, nn.Module):
        raise StudentAPIError(f"{LAYER_CLASS}(...) should build an nn.Module")
    return layer


def match_parameters(named: list[tuple[str, tuple[int, ...]]],
                     wanted: list[tuple[str, tuple[int, ...]]]) -> tuple[dict[str, str], list[str], list[str]]:
    """Map canonical names to the student's parameter names: same name first, then same shape in order.

    Returns (canonical -> student name, canonical names left unmatched, student names left over).
    """
    shapes = dict(named)
    mapping = {name: name for name, shape in wanted if shapes.get(name) == shape}
    free = [name for name, _ in named if name not in mapping.values()]
    missing = []
    for name, shape in wanted:
        if name in mapping:
            continue
        candidate = next((other for other in free if shapes[other] == shape), None)
        if candidate is None:
            missing.append(name)
        else:
            mapping[name] = candidate
            free.remove(candidate)
    return mapping, missing, free


def load_layer_parameters(layer: nn.Module, parameters: dict[str, np.ndarray]) -> dict[str, Any]:
    """Copy the canonical ``parameters`` into ``layer``; returns the mapping used and what was left over."""
    own = dict(layer.named_parameters())
    mapping, missing, extra = match_parameters([(name, tuple(p.shape)) for name, p in own.items()],
                                               [(name, tuple(np.shape(a))) for name, a in parameters.items()])
    if missing:
        listed = ", ".join(f"{name} {tuple(np.shape(parameters[name]))}" for name in missing)
        raise StudentAPIError(
            f"{LAYER_CLASS} has no parameter for {listed}: keep the buggy layer's parts (mha = "
            "MultiHeadAttention(embed_dim, num_heads), ffn = nn.Sequential(Linear(embed_dim, ffn_dim), ReLU(), "
            "Linear(ffn_dim, embed_dim)), norm1 and norm2 = nn.LayerNorm(embed_dim)); "
            f"its parameters are {', '.join(f'{n} {tuple(p.shape)}' for n, p in own.items()) or 'none'}")
    with torch.no_grad():
        for canonical, name in mapping.items():
            own[name].copy_(torch.from_numpy(np.asarray(parameters[canonical])))
    return {"renamed": sorted(f"{c} -> {n}" for c, n in mapping.items() if c != n), "extra": extra,
            "mapping": mapping}


@probe
def encoder_layer(namespace: dict[str, Any], embed_dim: int, num_heads: int, ffn_dim: int, dropout: float,
                  parameters: dict[str, np.ndarray], x: np.ndarray, mask: np.ndarray | None = None,
                  train: bool = False, seed: int = 0, grad_output: np.ndarray | None = None,
                  grad_weights: np.ndarray | None = None) -> dict[str, Any]:
    """Build the student's layer with the given parameters, run it once (float64), backpropagate."""
    layer = build_fixed_layer(namespace, embed_dim, num_heads, ffn_dim, dropout)
    layer.double()
    loaded = load_layer_parameters(layer, parameters)
    layer.train(bool(train))
    wants_grad = grad_output is not None or grad_weights is not None
    leaf = tensor(x, wants_grad)
    inputs = leaf.clone() if wants_grad else leaf   # a non-leaf, as the embedding output in the classifier
    torch.manual_seed(seed)
    output, weights = unpack_pair(layer(inputs, tensor(mask)), f"{LAYER_CLASS}.forward")
    result: dict[str, Any] = {"output": to_array(output, "the layer's output"),
                              "weights": to_array(weights, "the attention weights"),
                              "renamed": loaded["renamed"], "extra_parameters": loaded["extra"],
                              "weights_require_grad": bool(weights.requires_grad)}
    if wants_grad:
        if not output.requires_grad:
            raise StudentAPIError("no gradient flows through the layer's output: was it detached or computed "
                                  "under torch.no_grad()?")
        pairs = [(output, grad_output)]
        if weights.requires_grad:
            pairs.append((weights, grad_weights))
        backward(pairs)
        own = dict(layer.named_parameters())
        result["grad_x"] = grad_of(leaf)
        result["grads"] = {canonical: grad_of(own[name]) for canonical, name in loaded["mapping"].items()}
    return result
