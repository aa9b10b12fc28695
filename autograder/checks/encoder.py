"""Part B: the student's FixedTransformerEncoderLayer, compared with a correct layer.

Every case builds the student's layer with the parameters of a reference layer (random, LayerNorm
weights and biases too, so that swapped or missing norms show), runs it in float64 in the worker
and compares with our post-LN layer (the paper's) and our pre-LN layer (also accepted), computed
here with the same parameters, input and dropout seed.  A case passes when everything matches
one of the two.

Checks (15 points): ``fixed_layer_forward`` (eval mode, no padding: outputs and attention weights),
``fixed_layer_gradients`` (w.r.t. the input and every parameter), ``fixed_layer_dropout`` (train
mode, same dropout masks: dropout1 on the attention output, dropout2 on the feed-forward output),
``fixed_layer_padding_mask`` (left-padded masks: the mask reaches attention).  A layer wired
wrongly fails all four, since its output is wrong everywhere; a correct wiring with a dropout,
gradient or mask problem loses only that check.

When the output is wrong, the message names the wiring the layer computes, found by comparing its
output with known wrong variants computed here (:func:`diagnose_wiring`): no residual, residual
after the norm, sub-layer output thrown away, norm missing, norms swapped, feed-forward applied to
the raw attention output, pre-LN without residual, ...; in train mode, :func:`diagnose_dropout`
names the dropout placement (none, twice, on the sum, after the norm, inside the feed-forward
net, a hard-coded rate).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import strategies as st

from autograder.assignment import reference
from autograder.checks.base import CheckFailed, Student, check, describe_mismatch, for_all
from autograder.checks.hook import isolated_torch

PART = "part-b-fix"
CELL = "test_fixed_encoder"
DROPOUT = 0.3
ATOL, RTOL = 1e-7, 1e-6
SHAPES = ((1, 4), (2, 2), (2, 3), (4, 2), (2, 4), (4, 3))     # (num_heads, head_dim)
CORRECT = {"post": "post-LN", "pre": "pre-LN"}
FORMULAS = {"post": "h = norm1(x + dropout1(attention(x))), out = norm2(h + dropout2(ffn(h)))",
            "pre": "h = x + dropout1(attention(norm1(x))), out = h + dropout2(ffn(norm2(h)))"}


# ----------------------------------------------------------------------------------------------
# Cases

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


# ----------------------------------------------------------------------------------------------
# The reference layers, run here

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


def close(got: Any, expected: np.ndarray) -> bool:
    return got is not None and np.shape(got) == np.shape(expected) and bool(
        np.allclose(got, expected, rtol=RTOL, atol=ATOL))


def matching_form(case: LayerCase, got: dict[str, Any], **options: Any) -> str | None:
    """'post' or 'pre' if the student's output and weights match that correct layer, else None."""
    for form in CORRECT:
        expected = reference_result(form, case, **options)
        if close(got["output"], expected["output"]) and close(got["weights"], expected["weights"]):
            return form
    return None


class Diagnosed(CheckFailed):
    """A failure whose message (a diagnosis costing a few hundred forward passes) is built only when shown.

    Hypothesis meets many failing cases while it shrinks; only the last one's message is read.
    """

    def __init__(self, build: Callable[[], str]) -> None:
        super().__init__("")
        self._build, self._text = build, None

    def __str__(self) -> str:
        if self._text is None:
            try:
                self._text = self._build()
            except Exception as exc:  # a bug in a diagnosis must not hide the verdict
                self._text = (f"your layer's output differs from a correct layer's (the grader could not work out "
                              f"how: {type(exc).__name__}: {exc}; tell the course staff)")
        return self._text


# ----------------------------------------------------------------------------------------------
# Known wrong wirings, computed here

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


class Variants:
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


def _closest(case: LayerCase, got: np.ndarray, wirings: Iterator[Wiring], *, train: bool, seed: int
             ) -> tuple[Wiring, float]:
    variants = Variants(case)
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
    wiring, distance = _closest(case, got, wirings, train=False, seed=case.seed)
    if distance <= ATOL + RTOL * float(np.max(np.abs(got), initial=0.0)):
        head = "your layer computes"
    else:
        head = (f"your layer's output matches none of the usual wirings exactly; the closest (largest difference "
                f"{distance:.3g}) is")
    return "\n".join([f"{head}:"] + wiring.describe())


def diagnose_dropout(case: LayerCase, form: str, got: np.ndarray) -> str:
    """Name the known dropout placement (train mode) whose output is closest to ``got``."""
    wirings = (Wiring(form, form, drop_first=first, drop_second=second, rate=rate)
               for first, second, rate in DROPOUT_VARIANTS)
    wiring, distance = _closest(case, got, wirings, train=True, seed=case.seed)
    exact = distance <= ATOL + RTOL * float(np.max(np.abs(got), initial=0.0))
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


# ----------------------------------------------------------------------------------------------
# Checks

def run_layer(student: Student, case: LayerCase, **options: Any) -> dict[str, Any]:
    return student.call("encoder_layer", **case.request(**options))


def _wrong_wiring(case: LayerCase, got: dict[str, Any], intro: str) -> CheckFailed:
    correct_output = any(close(got["output"], reference_result(form, case)["output"]) for form in CORRECT)

    def build() -> str:
        head = [f"{case}:", intro,
                f"A correct layer computes {FORMULAS['post']} (post-LN, the paper's; pre-LN, {FORMULAS['pre']}, "
                "is also accepted)."]
        if correct_output:
            return "\n".join(head + [diagnose_weights(case, got["weights"])])
        mismatch = describe_mismatch("the layer's output", reference_result("post", case)["output"], got["output"])
        return "\n".join(head + [mismatch + " (post-LN)", diagnose_wiring(case, got["output"])])

    return Diagnosed(build)


def _one_thread(function: Callable[[Student], Any]) -> Callable[[Student], Any]:
    """Run a check's own torch work on one thread: tiny tensors on a busy machine are many times slower with more."""
    def run(student: Student) -> Any:
        with isolated_torch():
            return function(student)
    run.__doc__, run.__name__ = function.__doc__, function.__name__
    return run


GATE_CASE = LayerCase(batch=2, length=5, shape=(2, 3), mask="all", seed=1)


def _form_or_fail(student: Student, case: LayerCase, what: str) -> str:
    """The correct wiring the layer follows on ``case`` (eval mode); else a short failure naming fixed_layer_forward."""
    form = matching_form(case, run_layer(student, case))
    if form is None:
        raise _wrong_elsewhere(case, what)
    return form


def _wrong_elsewhere(case: LayerCase, what: str) -> CheckFailed:
    return CheckFailed(f"{case}:\nyour layer's eval-mode output is wrong (fixed_layer_forward says what it computes), "
                       f"so {what} cannot match a correct layer's either.")


@check("fixed_layer_forward", part=PART, test_cell=CELL, points=6)
@_one_thread
def fixed_layer_forward(student: Student) -> str:
    """In eval mode, the layer's output and attention weights are those of a correct encoder layer."""
    seen: set[str] = set()

    def test(case: LayerCase) -> None:
        got = run_layer(student, case)
        form = matching_form(case, got)
        if form is None:
            raise _wrong_wiring(case, got, "in eval mode your layer's output or attention weights are wrong.")
        seen.add(form)

    for_all(cases(("none", "all")), test, examples=12)
    return f"matches the {' and '.join(CORRECT[form] for form in sorted(seen))} layer"


@check("fixed_layer_gradients", part=PART, test_cell=CELL, points=3)
@_one_thread
def fixed_layer_gradients(student: Student) -> None:
    """Gradients w.r.t. the input and every parameter are those of a correct encoder layer."""
    _form_or_fail(student, GATE_CASE, "its gradients")

    def test(case: LayerCase) -> None:
        got = run_layer(student, case, grads=True)
        form = matching_form(case, got)
        if form is None:
            raise _wrong_elsewhere(case, "its gradients")
        expected = reference_result(form, case, grads=True)
        problems = []
        if not got["weights_require_grad"]:
            problems.append("the attention weights you return are detached from the graph: return them as self.mha "
                            "gives them, so gradients flow through them too")
        if not close(got.get("grad_x"), expected["grad_x"]):
            if got.get("grad_x") is None:
                problems.append("no gradient reaches the input x")
            else:
                problems.append(describe_mismatch("the gradient w.r.t. the input x", expected["grad_x"], got["grad_x"])
                                + ": does your forward detach x or part of a residual path (.detach(), .data, "
                                  "torch.no_grad())?")
        wrong = [name for name, value in expected["grads"].items() if not close(got["grads"].get(name), value)]
        missing = [name for name in wrong if got["grads"].get(name) is None]
        if missing:
            problems.append(f"no gradient reaches {', '.join(missing)}")
        if wrong and not missing:
            problems.append(describe_mismatch(f"the gradient w.r.t. {wrong[0]}", expected["grads"][wrong[0]],
                                              got["grads"][wrong[0]])
                            + (f" (also wrong: {', '.join(wrong[1:])})" if wrong[1:] else ""))
        if problems:
            raise CheckFailed(f"{case}, backpropagating sum(output * g) + sum(weights * g'):\n"
                              + "\n".join(f"- {problem}" for problem in problems))

    for_all(cases(("none", "all")), test, examples=6)


@check("fixed_layer_dropout", part=PART, test_cell=CELL, points=3)
@_one_thread
def fixed_layer_dropout(student: Student) -> None:
    """In train mode (same random seed), dropout1 and dropout2 drop what a correct layer drops."""
    _form_or_fail(student, GATE_CASE, "its train-mode output")

    def test(case: LayerCase) -> None:
        form = _form_or_fail(student, case, "its train-mode output")
        got = run_layer(student, case, train=True)
        expected = reference_result(form, case, train=True)
        if close(got["output"], expected["output"]) and close(got["weights"], expected["weights"]):
            return
        if not close(got["weights"], expected["weights"]):
            raise CheckFailed(f"{case}, train mode, torch.manual_seed({case.seed}) before the forward pass:\n"
                              + diagnose_weights(case, got["weights"]))
        raise Diagnosed(lambda: f"{case}, train mode, torch.manual_seed({case.seed}) before the forward pass:\n"
                        + describe_mismatch("the layer's output", expected["output"], got["output"])
                        + f" ({CORRECT[form]})\n" + diagnose_dropout(case, form, got["output"]))

    for_all(cases(("none", "all")), test, examples=6)


@check("fixed_layer_padding_mask", part=PART, test_cell=CELL, points=3)
@_one_thread
def fixed_layer_padding_mask(student: Student) -> None:
    """With a padding mask, the layer passes it to attention (padded keys get no weight) and matches a correct layer."""
    _form_or_fail(student, GATE_CASE, "its output with padding")

    def test(case: LayerCase) -> None:
        got = run_layer(student, case)
        if matching_form(case, got) is not None:
            return
        mask = case.arrays["mask"]
        weights = np.asarray(got["weights"])
        if weights.shape == (case.batch, case.heads, case.length, case.length):
            padded = np.broadcast_to(~mask, weights.shape)
            leak = float(weights[padded].max()) if padded.any() else 0.0
            if leak > 1e-6:
                hint = "your layer does not pass the mask on to self.mha"
                if matching_form(case, got, mask=~mask) is not None:
                    hint = "your layer inverts the mask (padding is False in it, real tokens True)"
                elif matching_form(case, got, mask=None) is None:
                    hint = "the mask does not reach the attention"
                raise CheckFailed(f"{case}:\npadded keys get attention weights up to {leak:.3g} instead of 0: {hint}; "
                                  "call self.mha(x, mask) with the mask forward() was given.")
        unpadded = LayerCase(case.batch, case.length, case.shape, "all", case.seed)
        _form_or_fail(student, unpadded, "its output with padding")
        raise _wrong_wiring(case, got, "with a padding mask your layer's output or attention weights are wrong.")

    for_all(cases(("padded",)), test, examples=8)
