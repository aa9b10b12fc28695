"""The mutation benchmark's oracles for Part B: the forward hook (B.4) and the fixed encoder layer (B.6).

Each oracle returns None for a namespace that behaves as the notebook says, else the first difference,
on this file's own models and inputs, with its own float64 layer (post-LN, the paper's, or pre-LN,
both accepted by B.6) built on :mod:`mutation_reference`'s attention (never the grader's).
"""
from __future__ import annotations

import math
from typing import Any

import torch
from mutation_reference import LAYERS, differ, reference_module
from torch import nn
from torch.nn import functional as F

# ------------------------------------------------------------------------------------------------
# B.4: make_attention_hook(storage), register_attention_hook(model, hook_fn)


class ToyAttention(nn.Module):
    """Returns (context, weights) as an attention module does; both depend on x and on a parameter."""

    def __init__(self, offset: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(1.0 + offset))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.scale * x @ x.transpose(-2, -1)
        weights = torch.softmax(scores, dim=-1).unsqueeze(1).expand(-1, 2, -1, -1)
        return self.scale * (weights[:, 0] @ x), weights


class ToyLayer(nn.Module):
    def __init__(self, offset: float) -> None:
        super().__init__()
        self.mha = ToyAttention(offset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mha(x)[0]


class ToyClassifier(nn.Module):
    """What register_attention_hook is given: a model whose ``layers[-1].mha`` is the last attention module."""

    def __init__(self, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(ToyLayer(0.1 * i) for i in range(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x.sum()


def _recorded(model: ToyClassifier, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
    """The model's output, every layer's weights and the gradient of x, with no hook of the student's."""
    seen: list[torch.Tensor] = []
    handles = [layer.mha.register_forward_hook(lambda m, i, o: seen.append(o[1].detach().clone()))
               for layer in model.layers]
    leaf = x.clone().requires_grad_()
    out = model(leaf)
    out.backward()
    for handle in handles:
        handle.remove()
    return out.detach(), seen, leaf.grad


def hook_equivalent(namespace: dict[str, Any]) -> str | None:
    """The hook stores the last layer's weights, detached and on the CPU, one per forward pass, changes nothing,
    returns None, and ``handle.remove()`` stops it."""
    make, register = namespace["make_attention_hook"], namespace["register_attention_hook"]
    generator = torch.Generator().manual_seed(3)
    try:
        for layers in (1, 3):
            model = ToyClassifier(layers)
            x = torch.randn(2, 5, 4, generator=generator, dtype=torch.float64)
            model.double()
            expected_out, weights, expected_grad = _recorded(model, x)
            storage: list[Any] = []
            other: list[Any] = []
            hook = make(storage)
            make(other)                                  # a second hook has a list of its own
            if hook(model.layers[-1].mha, (x,), model.layers[-1].mha(x)) is not None:
                return "the hook returns a value (it would replace the module's output)"
            storage.clear()
            handle = register(model, hook)
            leaf = x.clone().requires_grad_()
            out = model(leaf)
            out.backward()
            if differ(out, expected_out, 1e-12) or differ(leaf.grad, expected_grad, 1e-12):
                return "the hook changes the model's output or gradients"
            if len(storage) != 1 or other:
                return f"one forward pass stored {len(storage)} items (and {len(other)} in another hook's list)"
            stored = storage[0]
            if not isinstance(stored, torch.Tensor) or differ(stored, weights[-1], 0.0):
                return "what is stored is not the last attention module's weights"
            if stored.requires_grad or stored.device.type != "cpu":
                return "what is stored is not detached, or not on the CPU"
            stored.numpy()
            with torch.no_grad():
                model.eval()(x)
            if len(storage) != 2 or differ(storage[1], weights[-1], 0.0):
                return "an eval forward under no_grad does not store the weights"
            handle.remove()
            model(x)
            if len(storage) != 2:
                return "after handle.remove() the hook still stores"
    except Exception as exc:                             # noqa: BLE001 - a mutant may break in any way
        return f"raises {type(exc).__name__}: {exc}"[:200]
    return None


# ------------------------------------------------------------------------------------------------
# B.6: FixedTransformerEncoderLayer(embed_dim, num_heads, ffn_dim, dropout=0.1)

DEFAULT_DROPOUT = 0.1       # B.6: "the same constructor (embed_dim, num_heads, ffn_dim, dropout=0.1)"
NAMES = tuple(f"mha.{layer}.{kind}" for layer in LAYERS for kind in ("weight", "bias")) + (
    "ffn.0.weight", "ffn.0.bias", "ffn.2.weight", "ffn.2.bias", "norm1.weight", "norm1.bias", "norm2.weight",
    "norm2.bias")


def layer_norm(t: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    mean = t.mean(dim=-1, keepdim=True)
    variance = ((t - mean) ** 2).mean(dim=-1, keepdim=True)
    return (t - mean) / torch.sqrt(variance + 1e-5) * weight + bias


def reference_layer(p: dict[str, torch.Tensor], x: torch.Tensor, heads: int, mask: torch.Tensor | None, form: str,
                    dropout: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The paper's encoder layer (``form`` "post") or its pre-LN variant ("pre"); dropout (train mode) on each
    sub-layer's output before it is added, drawn in that order from torch's global generator."""
    def drop(t: torch.Tensor) -> torch.Tensor:
        return t if dropout is None else F.dropout(t, dropout, training=True)

    def ffn(t: torch.Tensor) -> torch.Tensor:
        return torch.relu(t @ p["ffn.0.weight"].T + p["ffn.0.bias"]) @ p["ffn.2.weight"].T + p["ffn.2.bias"]

    mha = {name.removeprefix("mha."): value for name, value in p.items() if name.startswith("mha.")}
    norm1 = lambda t: layer_norm(t, p["norm1.weight"], p["norm1.bias"])    # noqa: E731
    norm2 = lambda t: layer_norm(t, p["norm2.weight"], p["norm2.bias"])    # noqa: E731
    if form == "post":
        context, weights = reference_module(mha, x, heads, mask)
        h = norm1(x + drop(context))
        return norm2(h + drop(ffn(h))), weights
    context, weights = reference_module(mha, norm1(x), heads, mask)
    h = x + drop(context)
    return h + drop(ffn(norm2(h))), weights


def _parameters(generator: torch.Generator, embed: int, ffn_dim: int) -> dict[str, torch.Tensor]:
    shapes = {"ffn.0.weight": (ffn_dim, embed), "ffn.0.bias": (ffn_dim,), "ffn.2.weight": (embed, ffn_dim)}
    params = {}
    for name in NAMES:
        shape = shapes.get(name, (embed, embed) if name.endswith("weight") and name.startswith("mha") else (embed,))
        value = torch.randn(shape, generator=generator, dtype=torch.float64)
        if name.startswith("norm"):
            value = (1.0 if name.endswith("weight") else 0.0) + 0.4 * value
        elif len(shape) == 2:
            value = value / math.sqrt(shape[1])
        params[name] = value
    return params


def _built(cls: type, embed: int, heads: int, ffn_dim: int, dropout: float | None,
           params: dict[str, torch.Tensor]) -> nn.Module | str:
    layer = cls(embed, heads, ffn_dim) if dropout is None else cls(embed, heads, ffn_dim, dropout)
    for name in ("mha", "ffn", "norm1", "norm2", "dropout1", "dropout2"):
        if not isinstance(getattr(layer, name, None), nn.Module):
            return f"has no module {name}"
    if not (isinstance(layer.ffn, nn.Sequential) and [type(m) for m in layer.ffn] == [nn.Linear, nn.ReLU, nn.Linear]):
        return "ffn is not nn.Sequential(Linear, ReLU, Linear)"
    own = dict(layer.double().named_parameters())
    if sorted(own) != sorted(NAMES) or any(own[n].shape != v.shape for n, v in params.items()):
        return "its parameters are not those of the buggy layer's parts: " + ", ".join(
            f"{n} {tuple(v.shape)}" for n, v in own.items())
    with torch.no_grad():
        for name, value in params.items():
            own[name].copy_(value)
    return layer


def fixed_layer_equivalent(namespace: dict[str, Any]) -> str | None:
    """The layer computes post-LN or pre-LN (the same one everywhere) with its own parameters, passes the mask on,
    drops with dropout1 and dropout2 what the paper drops (p as given, 0.1 by default), returns the attention
    weights, and its gradients are the layer's."""
    cls = namespace["FixedTransformerEncoderLayer"]
    generator = torch.Generator().manual_seed(5)
    forms: set[str] = set()
    try:
        for embed, heads, ffn_dim, batch, length in ((8, 2, 12, 2, 5), (6, 3, 7, 3, 4), (4, 1, 9, 1, 3)):
            params = _parameters(generator, embed, ffn_dim)
            for dropout in (0.3, None):
                layer = _built(cls, embed, heads, ffn_dim, dropout, params)
                if isinstance(layer, str):
                    return layer
                x = torch.randn(batch, length, embed, generator=generator, dtype=torch.float64)
                padding = torch.ones(batch, 1, 1, length, dtype=torch.bool)
                padding[0, ..., : length // 2] = False                # left-padded, as the classifier pads
                for mask in (None, padding):
                    layer.eval()
                    got = layer(x.clone(), mask)
                    matching = [form for form in ("post", "pre")
                                if not any(differ(g, e, 1e-9) for g, e in zip(got, reference_layer(
                                    params, x, heads, mask, form, None)))]
                    if not matching:
                        return f"eval-mode output or weights differ (embed {embed}, mask {mask is not None})"
                    forms.add(matching[0])
                    form = matching[0]
                    layer.train()
                    seed = int(torch.randint(0, 2**31, (1,), generator=generator))
                    torch.manual_seed(seed)
                    got = layer(x.clone(), mask)
                    torch.manual_seed(seed)
                    expected = reference_layer(params, x, heads, mask, form, DEFAULT_DROPOUT if dropout is None
                                               else dropout)
                    if any(differ(g, e, 1e-9) for g, e in zip(got, expected)):
                        return f"train-mode output differs (dropout {dropout or 'default'}, mask {mask is not None})"
                    layer.eval().zero_grad(set_to_none=True)
                    leaf = x.clone().requires_grad_()
                    upstream = torch.randn(x.shape, generator=generator, dtype=torch.float64)
                    (layer(leaf, mask)[0] * upstream).sum().backward()
                    leaves = {name: value.clone().requires_grad_() for name, value in params.items()}
                    reference_leaf = x.clone().requires_grad_()
                    (reference_layer(leaves, reference_leaf, heads, mask, form, None)[0] * upstream).sum().backward()
                    own = dict(layer.named_parameters())
                    if differ(leaf.grad, reference_leaf.grad, 1e-8) or any(
                            own[name].grad is None or differ(own[name].grad, leaves[name].grad, 1e-8) for name in NAMES):
                        return f"gradients differ (embed {embed}, mask {mask is not None})"
    except Exception as exc:                             # noqa: BLE001 - a mutant may break in any way
        return f"raises {type(exc).__name__}: {exc}"[:200]
    return None if len(forms) == 1 else f"post-LN on some inputs, pre-LN on others ({sorted(forms)})"
