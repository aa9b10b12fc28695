"""Probes for Part A: call the student's attention function and module."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from autograder.probes import (ATTENTION_LAYERS, StudentAPIError, backward, grad_of, need, probe, tensor, to_array,
                               unpack_pair)


@probe
def sdpa(namespace: dict[str, Any], Q: np.ndarray, K: np.ndarray, V: np.ndarray, mask: np.ndarray | None = None,
         grad_output: np.ndarray | None = None, grad_weights: np.ndarray | None = None) -> dict[str, Any]:
    """Call scaled_dot_product_attention; return outputs, gradients and the inputs as left after the call."""
    function = need(namespace, "scaled_dot_product_attention")
    wants_grad = grad_output is not None or grad_weights is not None
    q, k, v = (tensor(a, wants_grad) for a in (Q, K, V))
    output, weights = unpack_pair(function(q, k, v, tensor(mask)), "scaled_dot_product_attention")
    result: dict[str, Any] = {"output": to_array(output, "the output"), "weights": to_array(weights, "the attention weights")}
    if wants_grad:
        backward([(output, grad_output), (weights, grad_weights)])
        result.update(grad_Q=grad_of(q), grad_K=grad_of(k), grad_V=grad_of(v))
    result.update(Q_after=q.detach().numpy().copy(), K_after=k.detach().numpy().copy(), V_after=v.detach().numpy().copy())
    return result


def build_attention(namespace: dict[str, Any], embed_dim: int, num_heads: int) -> nn.Module:
    module = need(namespace, "MultiHeadAttention")(embed_dim, num_heads)
    if not isinstance(module, nn.Module):
        raise StudentAPIError("MultiHeadAttention(...) should build an nn.Module")
    for name in ATTENTION_LAYERS:
        layer = getattr(module, name, None)
        if not isinstance(layer, nn.Linear) or tuple(layer.weight.shape) != (embed_dim, embed_dim) or layer.bias is None:
            raise StudentAPIError(f"MultiHeadAttention.{name} should be nn.Linear(embed_dim, embed_dim) with a bias")
    return module


def load_attention_parameters(module: nn.Module, parameters: dict[str, np.ndarray], prefix: str = "") -> None:
    with torch.no_grad():
        for name in ATTENTION_LAYERS:
            layer = getattr(module, name)
            layer.weight.copy_(torch.from_numpy(parameters[f"{prefix}{name}.weight"]))
            layer.bias.copy_(torch.from_numpy(parameters[f"{prefix}{name}.bias"]))


@probe
def mha(namespace: dict[str, Any], embed_dim: int, num_heads: int, parameters: dict[str, np.ndarray],
        x: np.ndarray, mask: np.ndarray | None = None, grad_output: np.ndarray | None = None,
        grad_weights: np.ndarray | None = None) -> dict[str, Any]:
    """Build MultiHeadAttention with the given W_q/W_k/W_v/W_o, run it in eval mode, backpropagate."""
    torch.manual_seed(0)
    module = build_attention(namespace, embed_dim, num_heads)
    load_attention_parameters(module, parameters)
    module.eval()
    wants_grad = grad_output is not None or grad_weights is not None
    inputs = tensor(x, wants_grad)
    context, weights = unpack_pair(module(inputs, tensor(mask)), "MultiHeadAttention.forward")
    result: dict[str, Any] = {"context": to_array(context, "the context vector"),
                              "weights": to_array(weights, "the attention weights"),
                              "x_after": inputs.detach().numpy().copy(),
                              "extra_parameters": sorted(n for n, _ in module.named_parameters()
                                                         if n.split(".")[0] not in ATTENTION_LAYERS)}
    if wants_grad:
        backward([(context, grad_output), (weights, grad_weights)])
        result["grad_x"] = grad_of(inputs)
        for name in ATTENTION_LAYERS:
            layer = getattr(module, name)
            result[f"grad_{name}.weight"] = grad_of(layer.weight)
            result[f"grad_{name}.bias"] = grad_of(layer.bias)
    return result
