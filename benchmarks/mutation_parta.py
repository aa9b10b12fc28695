"""The mutation benchmark's oracles for Part A: does a namespace's attention behave as A.1 and A.2 say?

Each oracle returns None for a namespace that behaves as the notebook says, else the first difference,
judged on this file's own random inputs against :mod:`mutation_reference` (never the grader's).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from mutation_reference import LAYERS, differ, reference_attention, reference_module


def masks(generator: torch.Generator, batch: int, heads: int, q: int, k: int) -> Iterator[torch.Tensor | None]:
    """No mask, then every shape and dtype the notebook names, then one with a query (a sequence) fully masked."""
    yield None
    padding = torch.rand(batch, 1, 1, k, generator=generator) < 0.7
    padding[..., 0] = True
    yield padding
    causal = torch.ones(q, k).tril(diagonal=max(k - q, 0))
    yield causal.long()
    yield causal[None, None].float()
    yield (torch.rand(batch, heads, q, k, generator=generator) < 0.6).int()
    dead = padding.clone()
    dead[0] = False
    yield dead


def sdpa_equivalent(namespace: dict[str, Any]) -> str | None:
    """None if the namespace's scaled_dot_product_attention behaves as the notebook says; else the first difference."""
    function = namespace["scaled_dot_product_attention"]
    generator = torch.Generator().manual_seed(0)
    for batch, heads, q, k, d in ((2, 3, 4, 5, 8), (1, 2, 3, 3, 4), (2, 1, 1, 4, 16), (1, 1, 5, 2, 1)):
        for mask in masks(generator, batch, heads, q, k):
            for scale in (1.0, 30.0, 300.0):
                for dtype, rtol in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
                    Q, K, V = (torch.randn(batch, heads, n, d, generator=generator, dtype=torch.float64) * s
                               for n, s in ((q, scale), (k, scale), (k, 1.0)))
                    Q, K, V = (t.to(dtype).requires_grad_() for t in (Q, K, V))
                    inputs = [t.detach().clone() for t in (Q, K, V)]
                    out, weights = reference_attention(*(t.double() for t in (Q, K, V)), mask)
                    try:
                        got = function(*(t.clone() for t in (Q, K, V)), None if mask is None else mask.clone())
                        got_out, got_weights = got
                        where = f"shape {(batch, heads, q, k, d)}, mask {None if mask is None else tuple(mask.shape)}"
                        if differ(got_weights, weights.to(dtype), rtol) or differ(got_out, out.to(dtype), rtol):
                            return f"values differ ({where}, scale {scale}, {dtype})"
                        upstream = torch.randn(out.shape, generator=generator, dtype=torch.float64)
                        expected = torch.autograd.grad((out * upstream).sum(), (Q, K, V), allow_unused=True)
                        grads = torch.autograd.grad((got_out * upstream.to(dtype)).sum(), (Q, K, V), allow_unused=True)
                    except Exception as exc:             # noqa: BLE001 - a mutant may break in any way
                        return f"raises {type(exc).__name__}: {exc}"[:200]
                    for name, g, e in zip("QKV", grads, expected):
                        if g is None or differ(g, e.to(dtype), rtol * 10):
                            return f"gradient with respect to {name} differs ({where}, scale {scale}, {dtype})"
                    if any(not torch.equal(t.detach(), before) for t, before in zip((Q, K, V), inputs)):
                        return "changes an input in place"
    return None


def mha_equivalent(namespace: dict[str, Any]) -> str | None:
    """None if the namespace's MultiHeadAttention behaves as the notebook says; else the first difference."""
    generator = torch.Generator().manual_seed(1)
    for embed, heads, sizes in ((8, 2, ((2, 5), (1, 3))), (6, 3, ((1, 3), (3, 1))), (4, 1, ((3, 4),)),
                                (4, 4, ((2, 1), (2, 6)))):
        try:
            module = namespace["MultiHeadAttention"](embed, heads)
            layers = [getattr(module, name) for name in LAYERS]
        except Exception as exc:                         # noqa: BLE001
            return f"cannot be built: {type(exc).__name__}: {exc}"[:200]
        if not all(isinstance(layer, torch.nn.Linear) and layer.bias is not None for layer in layers):
            return "W_q, W_k, W_v, W_o are not nn.Linear layers with a bias"
        for dtype, rtol in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
            params = {}
            for name in LAYERS:
                params[f"{name}.weight"] = torch.randn(embed, embed, generator=generator, dtype=torch.float64) / embed**0.5
                params[f"{name}.bias"] = 0.5 * torch.randn(embed, generator=generator, dtype=torch.float64)
            module = module.to(dtype).eval()
            module.load_state_dict({key: value.to(dtype) for key, value in params.items()}, strict=False)
            for batch, length in sizes:
                for mask in masks(generator, batch, heads, length, length):
                    if mask is not None and mask.dim() == 4 and mask.shape[1] == heads and heads > 1:
                        continue                       # a per-head mask: the notebook does not give the module one
                    x = torch.randn(batch, length, embed, generator=generator, dtype=torch.float64)
                    context, weights = reference_module(params, x, heads, mask)
                    leaf = x.to(dtype).requires_grad_()
                    before = leaf.detach().clone()
                    try:
                        got_context, got_weights = module(leaf, None if mask is None else mask.clone())
                        where = f"embed {embed}, heads {heads}, x {(batch, length)}, mask {mask is not None}"
                        if differ(got_weights, weights.to(dtype), rtol) or differ(got_context, context.to(dtype), rtol):
                            return f"values differ ({where}, {dtype})"
                        upstream = torch.randn(context.shape, generator=generator, dtype=torch.float64)
                        got_grad = torch.autograd.grad((got_context * upstream.to(dtype)).sum(), leaf)[0]
                    except Exception as exc:             # noqa: BLE001
                        return f"raises {type(exc).__name__}: {exc}"[:200]
                    x.requires_grad_()
                    expected = torch.autograd.grad((reference_module(params, x, heads, mask)[0] * upstream).sum(), x)[0]
                    if differ(got_grad, expected.to(dtype), rtol * 10):
                        return f"gradient with respect to x differs ({where}, {dtype})"
                    if not torch.equal(leaf.detach(), before):
                        return "changes x in place"
    return None
