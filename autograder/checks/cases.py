"""The cases Part A's checks draw, with hypothesis, and our reference's answers for them.

A case is a frozen dataclass of a few small numbers (sizes, a mask kind and dtype, a seed) from
which its arrays are made, so that hypothesis can shrink it and a failure can print it: inputs
are rounded to two decimals (or are small integers) and a case prints as the call a student can
type in.  :class:`SdpaCase` is one call of ``scaled_dot_product_attention``, :class:`MhaCase` one
call of ``MultiHeadAttention`` with given parameters, :class:`SizesCase` one module called on
inputs of several sizes in turn.  The reference answers are computed here in float64 on the
very same float32 inputs.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from autograder.assignment import reference
from autograder.checks.compare import tensor_literal
from autograder.checks.masking import describe_mask, make_keep

MAX_SHOWN = 48                   # inputs with at most this many numbers are printed in failure messages
LARGE = 40                       # |entries| of Q and K in the large-score cases (integers: the scores are exact)
FAR = (50, 100)                  # Q's entries and minus K's in the far cases: every score is -1e4 or below, d_k = 16
LAYERS = ("W_q", "W_k", "W_v", "W_o")


def rounded_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal numbers with two decimals, so that a printed counterexample is the exact input."""
    return np.round(rng.standard_normal(shape), 2).astype(np.float32)


def as_tensor(array: np.ndarray | None) -> torch.Tensor | None:
    return None if array is None else torch.from_numpy(np.asarray(array))


def as_float64_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, dtype=np.float64))


# ----------------------------------------------------------------------------------------------
# scaled_dot_product_attention

@dataclass(frozen=True)
class SdpaCase:
    batch: int
    heads: int
    q_len: int
    k_len: int
    head_dim: int
    mask: str = "none"       # "none" or one of masking.MASK_KINDS
    dtype: str = "bool"
    seed: int = 0
    fully_masked: bool = False
    large: bool = False
    far: bool = False        # every score between -40000 and -10000: only a fill far below them masks a key

    @cached_property
    def arrays(self) -> dict[str, Any]:
        rng = np.random.default_rng([self.seed, self.q_len, self.k_len, self.head_dim])
        shape_q = (self.batch, self.heads, self.q_len, self.head_dim)
        shape_k = (self.batch, self.heads, self.k_len, self.head_dim)
        if self.far:
            Q = rng.integers(FAR[0], FAR[1] + 1, shape_q).astype(np.float32)
            K = -rng.integers(FAR[0], FAR[1] + 1, shape_k).astype(np.float32)
        elif self.large:
            Q = rng.integers(-LARGE, LARGE + 1, shape_q).astype(np.float32)
            K = rng.integers(-LARGE, LARGE + 1, shape_k).astype(np.float32)
        else:
            Q, K = rounded_normal(rng, shape_q), rounded_normal(rng, shape_k)
        V = rounded_normal(rng, shape_k)
        mask = None
        if self.mask != "none":
            keep = make_keep(self.mask, self.batch, self.heads, self.q_len, self.k_len, rng,
                             fully_masked=self.fully_masked)
            mask = keep.astype(self.dtype)
        return {"Q": Q, "K": K, "V": V, "mask": mask,
                "grad_output": rounded_normal(rng, (self.batch, self.heads, self.q_len, self.head_dim)),
                "grad_weights": rounded_normal(rng, (self.batch, self.heads, self.q_len, self.k_len))}

    def request(self, *, grads: bool = False) -> dict[str, Any]:
        """The ``sdpa`` probe's arguments; with ``grads``, the upstream gradients to backpropagate too."""
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
            lines += [f"  {name} = {tensor_literal(data[name])}" for name in "QKV"]
        elif self.far:
            lines.append(f"  (Q holds integers from {FAR[0]} to {FAR[1]}, K from -{FAR[1]} to -{FAR[0]}: every score "
                         "is between -40000 and -10000)")
        elif self.large:
            lines.append(f"  (Q and K hold integers between -{LARGE} and {LARGE}: the scores are large)")
        return "\n".join(lines)


def sdpa_cases(masks: tuple[str, ...] = ("none",), dtypes: tuple[str, ...] = ("bool",), *, fully_masked: bool = False,
               large: bool = False, far: bool = False) -> st.SearchStrategy[SdpaCase]:
    @st.composite
    def build(draw: Callable) -> SdpaCase:
        batch, heads = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        q_len = draw(st.integers(1, 5))
        k_len = q_len if draw(st.booleans()) else draw(st.integers(1, 6))
        head_dim = 16 if far else draw(st.sampled_from((1, 4, 16))) if large else draw(st.integers(1, 8))
        return SdpaCase(batch, heads, q_len, k_len, head_dim, mask=draw(st.sampled_from(masks)),
                        dtype=draw(st.sampled_from(dtypes)), seed=draw(st.integers(0, 2**16)),
                        fully_masked=fully_masked, large=large, far=far)
    return build()


def sdpa_expected(case: SdpaCase) -> tuple[np.ndarray, np.ndarray]:
    """The reference's (output, weights) for ``case``, in float64."""
    data = case.arrays
    Q, K, V = (as_float64_tensor(data[name]) for name in "QKV")
    output, weights = reference.scaled_dot_product_attention(Q, K, V, as_tensor(data["mask"]))
    return output.numpy(), weights.numpy()


def sdpa_expected_gradients(case: SdpaCase, *, through_weights: bool = True) -> dict[str, np.ndarray]:
    """The reference's gradients with respect to Q, K and V of sum(output * g) + sum(weights * g').

    ``through_weights=False``: of sum(output * g) alone, for a function that returns its weights
    detached (the notebook asks for the weights' values, not for a graph behind them).
    """
    data = case.arrays
    leaves = [as_float64_tensor(data[name]).requires_grad_() for name in "QKV"]
    output, weights = reference.scaled_dot_product_attention(*leaves, as_tensor(data["mask"]))
    total = (output * as_float64_tensor(data["grad_output"])).sum()
    if through_weights:
        total = total + (weights * as_float64_tensor(data["grad_weights"])).sum()
    total.backward()
    return {name: leaf.grad.numpy() for name, leaf in zip("QKV", leaves)}


# ----------------------------------------------------------------------------------------------
# MultiHeadAttention

@dataclass(frozen=True)
class MhaCase:
    batch: int
    length: int
    heads: int
    head_dim: int
    mask: str = "none"
    dtype: str = "bool"
    seed: int = 0
    fully_masked: bool = False      # one sequence of the batch is padding only (a padding mask)
    zero_bias: tuple[str, ...] = ()  # the layers whose bias is zero (the student's module builds them without one)

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
        for name in self.zero_bias:
            parameters[f"{name}.bias"] = np.zeros(E, dtype=np.float32)
        mask = None
        if self.mask != "none":
            mask = make_keep(self.mask, self.batch, self.heads, self.length, self.length, rng,
                             fully_masked=self.fully_masked).astype(self.dtype)
        return {"parameters": parameters, "x": rounded_normal(rng, self.context_shape), "mask": mask,
                "grad_output": rounded_normal(rng, self.context_shape),
                "grad_weights": rounded_normal(rng, self.weights_shape)}

    def request(self, *, grads: bool = False, our_attention: bool = False) -> dict[str, Any]:
        """The ``mha`` probe's arguments; ``our_attention``: with the notebook's attention function in place."""
        data = self.arrays
        request = dict(embed_dim=self.embed_dim, num_heads=self.heads, parameters=data["parameters"], x=data["x"],
                       mask=data["mask"], our_attention=our_attention)
        if grads:
            request.update(grad_output=data["grad_output"], grad_weights=data["grad_weights"])
        return request

    def __str__(self) -> str:
        return (f"MultiHeadAttention(embed_dim={self.embed_dim}, num_heads={self.heads}) (head_dim {self.head_dim}) "
                f"with given W_q, W_k, W_v, W_o{zero_biases(self.zero_bias)}, in eval mode, on x of shape "
                f"{self.context_shape}, "
                + describe_mask(self.arrays["mask"], self.mask).replace("q_len", "seq_len").replace("k_len", "seq_len")
                + "".join(f"; x[{b}] is padding only (mask == 0 for every key)" for b in self.padding_only))

    @property
    def padding_only(self) -> tuple[int, ...]:
        """The batch elements whose every key is masked (a fully padded sequence)."""
        mask = self.arrays["mask"]
        if mask is None:
            return ()
        keep = np.broadcast_to(mask != 0, self.weights_shape)
        return tuple(int(b) for b in np.nonzero(~keep.any(axis=(1, 2, 3)))[0])


def zero_biases(layers: tuple[str, ...]) -> str:
    """How a case names the biases it takes as zero."""
    return f" (the bias of {', '.join(layers)} zero: your module has none)" if layers else ""


def mha_cases(masks: tuple[str, ...] = ("none",), dtypes: tuple[str, ...] = ("bool",), *,
              fully_masked: bool = False) -> st.SearchStrategy[MhaCase]:
    return st.builds(MhaCase, batch=st.integers(1, 3), length=st.integers(1, 6), heads=st.integers(1, 4),
                     head_dim=st.integers(1, 4), mask=st.sampled_from(masks), dtype=st.sampled_from(dtypes),
                     seed=st.integers(0, 2**16), fully_masked=st.just(fully_masked))


def reference_module(case: MhaCase) -> reference.MultiHeadAttention:
    """The reference module in float64 and eval mode, with ``case``'s parameters."""
    module = reference.MultiHeadAttention(case.embed_dim, case.heads).double().eval()
    module.load_state_dict({name: as_float64_tensor(value) for name, value in case.arrays["parameters"].items()})
    return module


@lru_cache(maxsize=128)
def mha_expected(case: MhaCase, grads: bool = False, masked: bool = True, through_weights: bool = True
                 ) -> dict[str, Any]:
    """The reference module's context and weights for ``case`` (and its gradients); ``masked=False``: without mask.

    The gradients are those of sum(context * g) + sum(weights * g'), or with ``through_weights=False``
    of sum(context * g) alone (for a module that returns its weights detached, which the notebook allows).
    """
    data = case.arrays
    module = reference_module(case)
    x = as_float64_tensor(data["x"]).requires_grad_(grads)
    context, weights = module(x, as_tensor(data["mask"]) if masked else None)
    result = {"context": context.detach().numpy(), "weights": weights.detach().numpy()}
    if grads:
        total = (context * as_float64_tensor(data["grad_output"])).sum()
        if through_weights:
            total = total + (weights * as_float64_tensor(data["grad_weights"])).sum()
        total.backward()
        result["grad_x"] = x.grad.numpy()
        for name in LAYERS:
            layer = getattr(module, name)
            result[f"grad_{name}.weight"] = layer.weight.grad.numpy()
            result[f"grad_{name}.bias"] = layer.bias.grad.numpy()
    return result


@dataclass(frozen=True)
class SizesCase:
    heads: int
    head_dim: int
    sizes: tuple[tuple[int, int], ...]    # (batch, seq_len) of each call, in order
    seed: int
    zero_bias: tuple[str, ...] = ()       # as in MhaCase

    def calls(self) -> list[MhaCase]:
        """One case per call; every call uses the first one's parameters."""
        return [MhaCase(batch, length, self.heads, self.head_dim, seed=self.seed, zero_bias=self.zero_bias)
                for batch, length in self.sizes]

    def request(self, *, our_attention: bool) -> dict[str, Any]:
        """The ``mha_sequence`` probe's arguments; ``our_attention`` as in :meth:`MhaCase.request`."""
        first = self.calls()[0]
        return dict(embed_dim=first.embed_dim, num_heads=self.heads, parameters=first.arrays["parameters"],
                    xs=[case.arrays["x"] for case in self.calls()], our_attention=our_attention)

    def __str__(self) -> str:
        shapes = ", ".join(f"({b}, {n}, {self.heads * self.head_dim})" for b, n in self.sizes)
        return (f"one MultiHeadAttention(embed_dim={self.heads * self.head_dim}, num_heads={self.heads}) with given "
                f"W_q, W_k, W_v, W_o{zero_biases(self.zero_bias)}, in eval mode, called in turn on x of shapes "
                f"{shapes}, mask=None")


sizes_cases = st.builds(SizesCase, heads=st.integers(1, 4), head_dim=st.integers(1, 4),
                        sizes=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 8)), min_size=2, max_size=4,
                                       unique=True).map(tuple),
                        seed=st.integers(0, 2**16))


def mha_expected_with(parameters_case: MhaCase, call: MhaCase) -> dict[str, np.ndarray]:
    """The reference module with ``parameters_case``'s parameters on ``call``'s input, without a mask."""
    module = reference_module(parameters_case)
    context, weights = module(as_float64_tensor(call.arrays["x"]), None)
    return {"context": context.detach().numpy(), "weights": weights.detach().numpy()}
