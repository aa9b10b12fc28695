"""Part B's fix: known wrong encoder layers, to tell a student what their layer computes.

When the output is wrong, :func:`diagnose_wiring` names the wiring the layer computes, found by
comparing its output with known wrong variants computed here: no residual, residual after the
norm, sub-layer output thrown away, norm missing, norms swapped, feed-forward applied to the raw
attention output, pre-LN without residual, ...; in train mode, :func:`diagnose_dropout` names the
dropout placement (none, twice, on the sum, after the norm, inside the feed-forward net, a
hard-coded rate).
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autograder.assignment import reference
from autograder.checks.compare import FLOAT64_VS_FLOAT64, describe_mismatch
from autograder.checks.encoder_cases import CORRECT, DROPOUT, LayerCase, reference_result
from autograder.errors import CheckFailed


class DeferredDiagnosis(CheckFailed):
    """A failure whose message (a diagnosis costing a few hundred forward passes) is built only when shown.

    Hypothesis meets many failing cases while it shrinks; only the last one's message is read.
    """

    def __init__(self, build: Callable[[], str], brief: str | None = None) -> None:
        super().__init__("", brief)
        self._build, self._text = build, None

    def __str__(self) -> str:
        if self._text is None:
            try:
                self._text = self._build()
            except Exception as exc:  # a bug in a diagnosis must not hide the verdict
                self._text = (f"your layer's output differs from a correct layer's (the grader could not work out "
                              f"how: {type(exc).__name__}: {exc}; tell the course staff)")
        return self._text


SUBLAYER_FORMS = {  # name: (formula with {x} input, {f} sub-layer, {N} norm, {D} dropout; what it means)
    "post": ("{N}({x} + {D}({f}({x})))", "correct (post-LN)"),
    "pre": ("{x} + {D}({f}({N}({x})))", "correct (pre-LN)"),
    "none": ("{N}({D}({f}({x})))", "{x} is not added back: the residual connection is missing"),
    "after": ("{N}({D}({f}({x}))) + {x}", "the residual is added after the norm; it belongs inside it, "
              "{N}({x} + {D}({f}({x})))"),
    "discard": ("{N}({x})", "the {f} output is thrown away: the sub-layer's result never reaches the output"),
    "nonorm": ("{x} + {D}({f}({x}))", "{N} is never applied"),
    "pre_none": ("{D}({f}({N}({x})))", "the norm moved before the sub-layer, but {x} is still not added back"),
    "pre_normed": ("{N}({x}) + {D}({f}({N}({x})))", "the residual adds the normalized input {N}({x}) instead "
                   "of {x} itself"),
    "identity": ("{x}", "the sub-layer is skipped: its input passes through unchanged"),
    "on_attention": ("{N}({x} + {D}({f}(attention_output)))", "the feed-forward net is applied to the raw "
                     "attention output instead of the attention sub-layer's result {x}"),
    "on_attention_none": ("{N}({D}({f}(attention_output)))", "the feed-forward net is applied to the raw "
                          "attention output, and {x} is not added back"),
}
FIRST_FORMS = ("post", "pre", "none", "after", "discard", "nonorm", "pre_none", "pre_normed", "identity")
SECOND_FORMS = FIRST_FORMS + ("on_attention", "on_attention_none")
DROPOUT_PLACES = {  # name: what it means
    "out": "dropout on the sub-layer's output (correct)",
    "none": "no dropout",
    "twice": "dropout applied twice",
    "sum": "dropout on the sum of the input and the sub-layer's output instead of on the sub-layer's output",
    "after_norm": "dropout after the norm instead of on the sub-layer's output",
    "hidden": "dropout inside the feed-forward net (on its hidden layer) instead of on its output",
}
DROPOUT_VARIANTS = (  # (attention sub-layer, feed-forward sub-layer, rate)
    ("out", "out", DROPOUT), ("none", "none", DROPOUT), ("out", "none", DROPOUT), ("none", "out", DROPOUT),
    ("twice", "twice", DROPOUT), ("twice", "out", DROPOUT), ("out", "twice", DROPOUT), ("sum", "sum", DROPOUT),
    ("after_norm", "after_norm", DROPOUT), ("out", "hidden", DROPOUT), ("out", "out", 0.1),
)


@dataclass(frozen=True)
class Wiring:
    first: str
    second: str
    swapped: bool = False
    drop_first: str = "out"
    drop_second: str = "out"
    rate: float = DROPOUT
    dropout_in_eval: bool = False

    def describe(self) -> list[str]:
        lines = []
        for index, (form, sub, source, target) in enumerate(((self.first, "attention", "x", "h"),
                                                              (self.second, "ffn", "h", "out"))):
            norm = f"norm{(index + 1) if not self.swapped else (2 - index)}"
            formula, meaning = SUBLAYER_FORMS[form]
            if self.swapped and form in CORRECT:
                meaning = f"the {CORRECT[form]} wiring, but with the other sub-layer's norm"
            names = dict(x=source, f=sub, N=norm, D=f"dropout{index + 1}")
            label = "attention sub-layer" if index == 0 else "feed-forward sub-layer"
            lines.append(f"  {label}: {target} = {formula.format(**names)}: {meaning.format(**names)}")
        if self.swapped:
            lines.append("  norm1 and norm2 are swapped: norm1 belongs to the attention sub-layer, norm2 to the "
                         "feed-forward one")
        if self.first in CORRECT and self.second in CORRECT and self.first != self.second and not self.swapped:
            lines.append(f"  each sub-layer on its own is correct, but the attention one is {CORRECT[self.first]} "
                         f"and the feed-forward one {CORRECT[self.second]}: use one wiring for both")
        if self.dropout_in_eval:
            lines.append("  dropout is applied in eval mode too (F.dropout(..., training=True) or a dropout of your "
                         "own): use self.dropout1 and self.dropout2, which model.eval() switches off")
        return lines


class FunctionalLayer:
    """A case's layer as plain functions, to compute any wiring of it."""

    def __init__(self, case: LayerCase) -> None:
        data = case.arrays
        self.case = case
        self.p = {name: torch.from_numpy(value) for name, value in data["parameters"].items()}
        self.x = torch.from_numpy(data["x"])
        self.mask = None if data["mask"] is None else torch.from_numpy(data["mask"])
        self.mha = reference.MultiHeadAttention(case.embed_dim, case.heads).double()
        self.mha.load_state_dict({name[4:]: value for name, value in self.p.items() if name.startswith("mha.")})

    def norm(self, index: int, t: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(t, (self.case.embed_dim,), self.p[f"norm{index}.weight"], self.p[f"norm{index}.bias"])

    def ffn(self, t: torch.Tensor, hidden_dropout: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        hidden = hidden_dropout(F.relu(F.linear(t, self.p["ffn.0.weight"], self.p["ffn.0.bias"])))
        return F.linear(hidden, self.p["ffn.2.weight"], self.p["ffn.2.bias"])

    def output(self, wiring: Wiring, *, train: bool, seed: int) -> np.ndarray:
        active = train or wiring.dropout_in_eval

        def dropout(t: torch.Tensor) -> torch.Tensor:
            return F.dropout(t, wiring.rate, training=active)

        def identity(t: torch.Tensor) -> torch.Tensor:
            return t

        n1, n2 = (2, 1) if wiring.swapped else (1, 2)
        attention_output: list[torch.Tensor] = []

        def attention(t: torch.Tensor) -> torch.Tensor:
            context = self.mha(t, self.mask)[0]
            attention_output.append(context)
            return context

        def feed_forward(t: torch.Tensor) -> torch.Tensor:
            return self.ffn(t, dropout if wiring.drop_second == "hidden" else identity)

        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(seed)
            h = self._sublayer(wiring.first, self.x, attention, lambda t: self.norm(n1, t), dropout, wiring.drop_first)
            if wiring.second.startswith("on_attention"):
                raw = attention_output[0] if attention_output else self.mha(self.x, self.mask)[0]
                sub = dropout(feed_forward(raw))
                out = self.norm(n2, h + sub) if wiring.second == "on_attention" else self.norm(n2, sub)
            else:
                out = self._sublayer(wiring.second, h, feed_forward, lambda t: self.norm(n2, t), dropout,
                                     wiring.drop_second)
        return out.numpy()

    @staticmethod
    def _sublayer(form: str, x: torch.Tensor, f: Callable, N: Callable, D: Callable, place: str) -> torch.Tensor:
        def d(t: torch.Tensor) -> torch.Tensor:
            return D(D(t)) if place == "twice" else D(t) if place == "out" else t

        if form == "post":
            total = x + d(f(x))
            total = D(total) if place == "sum" else total
            result = N(total)
            return D(result) if place == "after_norm" else result
        if form == "pre":
            total = x + d(f(N(x)))
            return D(total) if place in ("sum", "after_norm") else total
        if form == "none":
            return N(d(f(x)))
        if form == "after":
            return N(d(f(x))) + x
        if form == "discard":
            f(x)
            return N(x)
        if form == "nonorm":
            return x + d(f(x))
        if form == "pre_none":
            return d(f(N(x)))
        if form == "pre_normed":
            normed = N(x)
            return normed + d(f(normed))
        if form == "identity":
            return x
        raise ValueError(form)


def _closest_wiring(case: LayerCase, got: np.ndarray, wirings: Iterator[Wiring], *, train: bool, seed: int
             ) -> tuple[Wiring, float]:
    variants = FunctionalLayer(case)
    best, best_distance = None, np.inf
    for wiring in wirings:
        expected = variants.output(wiring, train=train, seed=seed)
        if expected.shape != np.shape(got):
            continue
        distance = float(np.max(np.abs(expected - got))) if expected.size else 0.0
        if distance < best_distance - 1e-12:
            best, best_distance = wiring, distance
    assert best is not None
    return best, best_distance


def diagnose_wiring(case: LayerCase, got: np.ndarray) -> str:
    """Name the known wiring (eval mode) whose output is closest to ``got``."""
    if not isinstance(got, np.ndarray) or got.shape != case.arrays["x"].shape:
        return (f"your layer's output has shape {tuple(np.shape(got))}; it should have the input's shape "
                f"{case.arrays['x'].shape}")
    wirings = itertools.chain(
        (Wiring(first, second, swapped)
         for swapped in (False, True) for first in FIRST_FORMS for second in SECOND_FORMS),
        (Wiring(form, form, dropout_in_eval=True) for form in CORRECT))
    wiring, distance = _closest_wiring(case, got, wirings, train=False, seed=case.seed)
    if distance <= FLOAT64_VS_FLOAT64.atol + FLOAT64_VS_FLOAT64.rtol * float(np.max(np.abs(got), initial=0.0)):
        head = "your layer computes"
    else:
        head = (f"your layer's output matches none of the usual wirings exactly; the closest (largest difference "
                f"{distance:.3g}) is")
    return "\n".join([f"{head}:"] + wiring.describe())


def diagnose_dropout(case: LayerCase, form: str, got: np.ndarray) -> str:
    """Name the known dropout placement (train mode) whose output is closest to ``got``."""
    wirings = (Wiring(form, form, drop_first=first, drop_second=second, rate=rate)
               for first, second, rate in DROPOUT_VARIANTS)
    wiring, distance = _closest_wiring(case, got, wirings, train=True, seed=case.seed)
    exact = distance <= FLOAT64_VS_FLOAT64.atol + FLOAT64_VS_FLOAT64.rtol * float(np.max(np.abs(got), initial=0.0))
    head = "in train mode your layer's output is what this dropout placement gives" if exact else (
        f"in train mode your layer's output matches no usual dropout placement; the closest (largest difference "
        f"{distance:.3g}) is")
    lines = [f"{head}:"]
    for label, place in (("attention sub-layer (dropout1)", wiring.drop_first),
                         ("feed-forward sub-layer (dropout2)", wiring.drop_second)):
        lines.append(f"  {label}: {DROPOUT_PLACES[place]}")
    if wiring.rate != DROPOUT:
        lines.append(f"  dropout probability {wiring.rate} instead of the constructor's dropout argument ({DROPOUT}): "
                     "pass `dropout` on to nn.Dropout")
    lines.append("Both sub-layers should apply their dropout once, to the sub-layer's output before it is added to "
                 "the residual: dropout1(attention(...)) and dropout2(ffn(...)).")
    return "\n".join(lines)


def diagnose_weights(case: LayerCase, got: Any) -> str:
    expected = reference_result("post", case)["weights"]
    if np.shape(got) != expected.shape:
        return (f"the attention weights your layer returns have shape {tuple(np.shape(got))}; return the weights "
                f"of self.mha, shape {expected.shape} (batch, heads, query, key)")
    return ("the attention weights your layer returns are not those of its call to self.mha: "
            + describe_mismatch("the attention weights", expected, got))
