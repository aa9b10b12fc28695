"""Part B's fix: the cases the encoder-layer checks draw, and what a correct layer gives for them.

A case is a layer size, an input and a mask; its parameters are random (LayerNorm weights and
biases too, so that swapped or missing norms show).  Our post-LN layer (the paper's) and pre-LN
layer (also accepted) are run here, in float64, with the case's parameters, input and dropout seed.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from autograder.assignment import reference
from autograder.checks.compare import FLOAT64_VS_FLOAT64, close

DROPOUT = 0.3
SHAPES = ((1, 4), (2, 2), (2, 3), (4, 2), (2, 4), (4, 3))     # (num_heads, head_dim)
CORRECT = {"post": "post-LN", "pre": "pre-LN"}
FORMULAS = {"post": "h = norm1(x + dropout1(attention(x))), out = norm2(h + dropout2(ffn(h)))",
            "pre": "h = x + dropout1(attention(norm1(x))), out = h + dropout2(ffn(norm2(h)))"}


@dataclass(frozen=True)
class LayerCase:
    batch: int
    length: int
    shape: tuple[int, int]
    mask: str  # "none": mask=None; "all": every token real; "padded": some rows left-padded
    seed: int

    @property
    def heads(self) -> int:
        return self.shape[0]

    @property
    def embed_dim(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def ffn_dim(self) -> int:
        return 2 * self.embed_dim + 1

    def __str__(self) -> str:
        masks = {"none": "mask=None", "all": "a mask with every token real",
                 "padded": f"a padding mask (padded keys per row: {self.padding()})"}
        return (f"FixedTransformerEncoderLayer(embed_dim={self.embed_dim}, num_heads={self.heads}, "
                f"ffn_dim={self.ffn_dim}, dropout={DROPOUT}) on x of shape ({self.batch}, {self.length}, "
                f"{self.embed_dim}) with {masks[self.mask]}")

    def padding(self) -> list[int]:
        rng = np.random.default_rng([self.seed, 7])
        pads = [int(n) for n in rng.integers(0, self.length, size=self.batch)]
        if not any(pads):
            pads[0] = 1
        return pads

    @cached_property
    def arrays(self) -> dict[str, Any]:
        rng = np.random.default_rng(self.seed)
        E, F_ = self.embed_dim, self.ffn_dim
        parameters = {}
        for name, value in reference.PostLNEncoderLayer(E, self.heads, F_).state_dict().items():
            shape = tuple(value.shape)
            if name.startswith("norm") and name.endswith("weight"):
                parameters[name] = 1.0 + 0.4 * rng.standard_normal(shape)
            elif name.startswith("norm"):
                parameters[name] = 0.4 * rng.standard_normal(shape)
            else:
                parameters[name] = rng.standard_normal(shape) / np.sqrt(shape[-1])
        mask = None
        if self.mask == "all":
            mask = np.ones((self.batch, 1, 1, self.length), dtype=bool)
        elif self.mask == "padded":
            mask = np.ones((self.batch, 1, 1, self.length), dtype=bool)
            for row, pads in enumerate(self.padding()):
                mask[row, ..., :pads] = False
        shape_x = (self.batch, self.length, E)
        return {"parameters": parameters, "x": rng.standard_normal(shape_x), "mask": mask,
                "grad_output": rng.standard_normal(shape_x),
                "grad_weights": rng.standard_normal((self.batch, self.heads, self.length, self.length))}

    def request(self, *, train: bool = False, grads: bool = False, seed: int | None = None) -> dict[str, Any]:
        data = self.arrays
        request = dict(embed_dim=self.embed_dim, num_heads=self.heads, ffn_dim=self.ffn_dim, dropout=DROPOUT,
                       parameters=data["parameters"], x=data["x"], mask=data["mask"], train=train,
                       seed=self.seed if seed is None else seed)
        if grads:
            request.update(grad_output=data["grad_output"], grad_weights=data["grad_weights"])
        return request


def cases(masks: tuple[str, ...], max_batch: int = 3, max_length: int = 6) -> st.SearchStrategy[LayerCase]:
    return st.builds(LayerCase, batch=st.integers(1, max_batch), length=st.integers(2, max_length),
                     shape=st.sampled_from(SHAPES), mask=st.sampled_from(masks), seed=st.integers(0, 2**16))


def reference_result(form: str, case: LayerCase, *, train: bool = False, grads: bool = False,
                     mask: Any = "case") -> dict[str, Any]:
    """What our post-LN or pre-LN layer gives for ``case`` (same parameters, input, dropout seed)."""
    data = case.arrays
    layer_cls = reference.PostLNEncoderLayer if form == "post" else reference.PreLNEncoderLayer
    layer = layer_cls(case.embed_dim, case.heads, case.ffn_dim, DROPOUT).double()
    layer.load_state_dict({name: torch.from_numpy(value) for name, value in data["parameters"].items()})
    layer.train(train)
    leaf = torch.from_numpy(data["x"].copy()).requires_grad_(grads)
    mask_array = data["mask"] if isinstance(mask, str) else mask
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(case.seed)
        output, weights = layer(leaf.clone(), None if mask_array is None else torch.from_numpy(mask_array))
    result = {"output": output.detach().numpy(), "weights": weights.detach().numpy()}
    if grads:
        total = (output * torch.from_numpy(data["grad_output"])).sum() + \
                (weights * torch.from_numpy(data["grad_weights"])).sum()
        total.backward()
        result["grad_x"] = leaf.grad.numpy()
        result["grads"] = {name: parameter.grad.numpy() for name, parameter in layer.named_parameters()}
    return result


def matching_form(case: LayerCase, got: dict[str, Any], **options: Any) -> str | None:
    """'post' or 'pre' if the student's output and weights match that correct layer, else None."""
    for form in CORRECT:
        expected = reference_result(form, case, **options)
        if (close(got["output"], expected["output"], FLOAT64_VS_FLOAT64)
                and close(got["weights"], expected["weights"], FLOAT64_VS_FLOAT64)):
            return form
    return None
