"""The checks of test cell ``test_mha``: the student's MultiHeadAttention, judged by its behaviour.

Cases, reference and tolerance as in :mod:`.sdpa`.  MultiHeadAttention is judged as a module
around *some* attention function: each case runs with the student's own
``scaled_dot_product_attention`` and, when that fails, once more with the notebook's formula
standing in for it (:class:`ModuleCaseRunner`; see :mod:`autograder.probes.mha`).  A module
that is right with a correct attention function passes, so one mistake in the function costs
test_sdpa points only, never test_mha points too.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import strategies as st

from autograder.checks.cases import LAYERS, MhaCase, SizesCase, mha_cases, mha_expected, mha_expected_with, sizes_cases
from autograder.checks.compare import FLOAT32_VS_FLOAT64, all_finite, close, describe_mismatch, format_index
from autograder.checks.masking import (
    LEAK,
    MASK_DTYPES,
    MODULE_MASK_KINDS,
    SUM_TOLERANCE,
    kept,
    leaking_key,
    masking_problem,
)
from autograder.checks.mistakes import diagnose_mha
from autograder.checks.registry import Student, check, for_all
from autograder.errors import CheckFailed, MalformedReply, StudentError

PART, CELL = "part-a", "test_mha"
FALLBACK_NOTE = ("passes with the notebook's scaled_dot_product_attention standing in for yours (yours has a mistake "
                 "that the test_sdpa checks report; it is not counted twice)")
MODULE_HINTS = {
    "weights": ("\nLook at W_q and W_k, at the split into heads (batch, seq_len, embed_dim) -> (batch, num_heads, "
                "seq_len, head_dim), and at the scaling by sqrt(head_dim)."),
    "context": ("\nYour weights are right here: look at W_v, at the merge of the heads back to (batch, seq_len, "
                "embed_dim) in their order, and at W_o: forward returns W_o of the merged heads, with nothing after it."),
}
Rerun = Callable[..., dict[str, Any]]                      # the same probe again, on a changed request
CaseJudge = Callable[[dict[str, Any], Rerun], "str | None"]  # what the probe returned -> what is wrong, or None


class ModuleCaseRunner:
    """Runs a module check's cases: with the student's attention function, then with the notebook's if that fails.

    A judge gets what the probe returned and ``rerun(**changes)``, which calls the same probe
    (with the same attention function) on a changed request; it returns None or what is wrong.
    """

    def __init__(self, student: Student, probe: str = "mha") -> None:
        self.student, self.probe = student, probe
        self.fallbacks = 0

    def attempt(self, request: dict[str, Any], judge: CaseJudge) -> str | None:
        def rerun(**changes: Any) -> dict[str, Any]:
            return self.student.call(self.probe, **{**request, **changes})

        try:
            return judge(self.student.call(self.probe, **request), rerun)
        except StudentError as exc:
            return f"your code raised:\n{exc}"

    def __call__(self, case: Any, request: Callable[..., dict[str, Any]], judge: CaseJudge) -> None:
        """Judge ``case``; ``request(our_attention=...)`` gives the probe's arguments."""
        own = self.attempt(request(our_attention=False), judge)
        if own is None:
            return
        ours = self.attempt(request(our_attention=True), judge)
        if ours is None:
            self.fallbacks += 1
            return
        if ours != own:
            ours = ("(run with the notebook's scaled_dot_product_attention in place of yours, so that only "
                    f"MultiHeadAttention counts here)\n{ours}")
        raise CheckFailed(f"{case}:\n{ours}")

    def note(self) -> str | None:
        return FALLBACK_NOTE if self.fallbacks else None


_LAYOUTS: weakref.WeakKeyDictionary[Any, tuple[str, ...]] = weakref.WeakKeyDictionary()


def without_bias(student: Student) -> tuple[str, ...]:
    """The layers the student's module builds without a bias (the worker's word, a claim; asked once per student).

    Their biases are zero in every case the checks send, so the claim buys nothing: the module is
    graded on what it computes with those biases zero, and mha_gradients costs it its points.
    """
    if student not in _LAYOUTS:
        try:
            names = student.call("mha_layout", embed_dim=4, num_heads=2).get("without_bias")
        except StudentError:        # the module cannot be built: every case reports that
            names = []
        if not isinstance(names, list) or not set(names) <= set(LAYERS) or len(set(names)) != len(names):
            raise MalformedReply("the reply naming the layers without a bias is malformed")
        _LAYOUTS[student] = tuple(name for name in LAYERS if name in names)
    return _LAYOUTS[student]


def with_student_biases(student: Student, cases: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The cases with the biases zero that the student's module does not have."""
    layout = without_bias(student)
    return cases.map(lambda case: replace(case, zero_bias=layout)) if layout else cases


def run_module_check(student: Student, cases: st.SearchStrategy[MhaCase], examples: int,
                     judge: Callable[[MhaCase, dict[str, Any], Rerun], str | None], *, grads: bool = False,
                     runner: ModuleCaseRunner | None = None) -> str | None:
    runner = runner or ModuleCaseRunner(student)
    for_all(with_student_biases(student, cases), lambda case: runner(case, lambda *, our_attention: case.request(grads=grads,
                                                                                   our_attention=our_attention),
                                       lambda got, rerun: judge(case, got, rerun)), examples=examples)
    return runner.note()


def shape_problem(case: MhaCase, got: dict[str, Any]) -> str | None:
    for key, what, shape, names in (("context", "context vector", case.context_shape, "(batch, seq_len, embed_dim)"),
                                    ("weights", "attention weights", case.weights_shape,
                                     "(batch, num_heads, seq_len, seq_len)")):
        if tuple(np.shape(got[key])) != shape:
            return f"the {what} has shape {tuple(np.shape(got[key]))}; expected {shape} = {names}"
    return None


def output_problem(case: MhaCase, got: dict[str, Any], key: str) -> str | None:
    """What is wrong with one of forward's outputs (``key``: "weights" or "context"), with the mistake it shows."""
    expected = mha_expected(case)[key]
    if close(got[key], expected, FLOAT32_VS_FLOAT64):
        return None
    what = {"weights": "the attention weights", "context": "the context vector"}[key]
    hint = MODULE_HINTS[key]
    if key == "context" and not close(got["weights"], mha_expected(case)["weights"], FLOAT32_VS_FLOAT64):
        hint = MODULE_HINTS["weights"].replace("Look at", "Your weights are wrong too (mha_attention_weights): look at")
    return describe_mismatch(what, expected, got[key]) + (diagnose_mha(case, got[key], key) or hint)


def same_forward(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Whether the context and the weights are ``expected``'s."""
    return all(close(got[key], np.asarray(expected[key], dtype=np.float64), FLOAT32_VS_FLOAT64)
               for key in ("context", "weights"))


def forward_right(case: MhaCase, got: dict[str, Any], *, masked: bool = True) -> bool:
    expected = mha_expected(case, masked=masked)
    return (close(got["weights"], expected["weights"], FLOAT32_VS_FLOAT64)
            and close(got["context"], expected["context"], FLOAT32_VS_FLOAT64))


@check("mha_shapes", part=PART, test_cell=CELL, points=2)
def mha_shapes(student: Student) -> str | None:
    """forward returns the context (batch, seq_len, embed_dim) and weights (batch, heads, seq_len, seq_len), float32.

    20 examples: batch 1-3, seq_len 1-6, num_heads 1-4, head_dim 1-4, no mask.
    """
    def judge(case: MhaCase, got: dict[str, Any], rerun: Rerun) -> str | None:
        problem = shape_problem(case, got)
        if problem:
            return problem
        for key, what in (("context", "context vector"), ("weights", "attention weights")):
            if got[key].dtype != np.float32:
                return f"the {what} has dtype {got[key].dtype}; x and the parameters are float32, so it should be too"
        return None

    return run_module_check(student, mha_cases(), 20, judge)


@check("mha_weights_distribution", part=PART, test_cell=CELL, points=1)
def mha_weights_distribution(student: Student) -> str | None:
    """The weights forward returns are, in every head, rows of a probability distribution over the keys.

    10 examples, without a mask and with bool padding and causal masks.
    """
    def judge(case: MhaCase, got: dict[str, Any], rerun: Rerun) -> str | None:
        weights = np.asarray(got["weights"], dtype=np.float64)
        if weights.shape != case.weights_shape:
            return (f"the attention weights have shape {weights.shape}; expected {case.weights_shape} = "
                    "(batch, num_heads, seq_len, seq_len)")
        if not all_finite(weights):
            return "expected probabilities, but the attention weights contain NaN or inf"
        lowest = np.unravel_index(int(np.argmin(weights)), weights.shape)
        if weights[lowest] < -LEAK:
            return (f"expected probabilities, but weights{format_index(lowest)} = {weights[lowest]:.4g} is negative: "
                    "return the weights scaled_dot_product_attention gives, softmax over the keys")
        sums = weights.sum(axis=-1)
        worst = np.unravel_index(int(np.argmax(np.abs(sums - 1.0))), sums.shape)
        if abs(sums[worst] - 1.0) > SUM_TOLERANCE:
            return (f"the weights of query {format_index(worst)} sum to {sums[worst]:.6g}, not 1: return the weights "
                    "scaled_dot_product_attention gives, softmax over the keys")
        return None

    return run_module_check(student, mha_cases(("none", "padding", "causal")), 10, judge)


@check("mha_attention_weights", part=PART, test_cell=CELL, points=3)
def mha_attention_weights(student: Student) -> str | None:
    """With the reference's W_q, W_k, W_v, W_o copied in (eval mode), the weights equal the reference's.

    20 examples, no mask: this checks the projections W_q and W_k, the split into heads and the scaling.
    """
    return run_module_check(student, mha_cases(), 20, lambda case, got, rerun: (
        shape_problem(case, got) or output_problem(case, got, "weights")))


@check("mha_context", part=PART, test_cell=CELL, points=3)
def mha_context(student: Student) -> str | None:
    """With the reference's W_q, W_k, W_v, W_o copied in (eval mode), the context equals the reference's.

    20 examples, no mask: this checks W_v, the merge of the heads (back in order) and W_o.
    """
    return run_module_check(student, mha_cases(), 20, lambda case, got, rerun: (
        shape_problem(case, got) or output_problem(case, got, "context")))


@check("mha_mask", part=PART, test_cell=CELL, points=2)
def mha_mask(student: Student) -> str | None:
    """A mask of every shape the notebook names, in every dtype, reaches every head: masked keys get zero weight.

    5 examples for each mask shape (padding (batch, 1, 1, seq), causal (seq, seq) and (1, 1, seq, seq)),
    the dtype drawn from bool, int64, int32, float32, values as the reference.  A module that is
    wrong without a mask too (other checks report that) is judged on the masking of its weights
    only: they must be its unmasked weights restricted to the kept keys and renormalized.  A
    per-head (batch, heads, seq, seq) mask is not used: A.2 does not say forward takes one.
    Then 5 examples of a padding mask with one sequence of the batch padding only (as a batch of
    reviews can hold): that sequence's weights must be uniform, as the notebook's -1e9 gives, and
    its context the reference's (or W_o's bias alone, the zero attention output that
    F.scaled_dot_product_attention gives a query with no key); no NaN anywhere.
    """
    def judge(case: MhaCase, got: dict[str, Any], rerun: Rerun) -> str | None:
        problem = shape_problem(case, got)
        if problem:
            return problem
        if forward_right(case, got):
            return None
        keep = kept(case.arrays["mask"], case.weights_shape)
        weights = np.nan_to_num(np.asarray(got["weights"], dtype=np.float64), nan=1.0)
        worst = leaking_key(weights, ~keep)
        leak = None if worst is None else (
            f"the key at weights{format_index(worst)} has mask == 0 but gets weight {weights[worst]:.4g}: pass "
            "the mask, as given, on to scaled_dot_product_attention")
        own = rerun(mask=None)

        def against_reference() -> str | None:
            if leak:
                return leak + diagnose_mha(case, got["weights"], "weights")
            return output_problem(case, got, "weights") or output_problem(case, got, "context")

        def against_renormalized(expected: np.ndarray) -> str | None:
            if close(got["weights"], expected, FLOAT32_VS_FLOAT64):
                return None
            return leak or describe_mismatch("the attention weights", expected, got["weights"])

        right_without_mask = shape_problem(case, own) is None and forward_right(case, own, masked=False)
        return masking_problem(got["weights"], keep, own["weights"], right_without_mask=right_without_mask,
                               against_reference=against_reference, against_renormalized=against_renormalized,
                               leak=lambda: leak)

    runner = ModuleCaseRunner(student)
    for kind in MODULE_MASK_KINDS:
        run_module_check(student, mha_cases((kind,), MASK_DTYPES), 5, judge, runner=runner)
    run_module_check(student, mha_cases(("padding",), MASK_DTYPES, fully_masked=True), 5, padding_only_problem,
                     runner=runner)
    return runner.note()


def padding_only_problem(case: MhaCase, got: dict[str, Any], rerun: Rerun) -> str | None:
    """What is wrong for the sequences that are padding only (None: nothing); the others are judged elsewhere."""
    problem = shape_problem(case, got)
    if problem:
        return problem
    if not all_finite(got["weights"], got["context"]):
        return (f"expected uniform weights for x[{case.padding_only[0]}], whose every key is masked, but your weights "
                "or context contain NaN or inf. Fill masked scores with -1e9 (not -inf) wherever forward computes "
                "attention, so that such a query's scores are all equal instead of giving 0/0.")
    expected = mha_expected(case)
    silent = case.arrays["parameters"]["W_o.bias"].astype(np.float64)
    for b in case.padding_only:
        where = f" of x[{b}] (padding only)"
        if not close(got["weights"][b], expected["weights"][b], FLOAT32_VS_FLOAT64):
            return (describe_mismatch("the attention weights", expected["weights"][b], got["weights"][b], where=where)
                    + f".\nEvery score of this sequence is replaced by -1e9, so its weights are uniform, "
                      f"1/seq_len = {1 / case.length:.4g} each: look at how -1e9 gets into the scores "
                      "(masked_fill(mask == 0, -1e9) replaces them; adding -1e9 or filling -inf does not do the same)")
        context = got["context"][b]
        if close(context, expected["context"][b], FLOAT32_VS_FLOAT64) or close(
                context, np.broadcast_to(silent, context.shape), FLOAT32_VS_FLOAT64):
            continue
        own = rerun(mask=None)
        if shape_problem(case, own) is None and forward_right(case, own, masked=False):
            return (describe_mismatch("the context vector", expected["context"][b], context, where=where)
                    + ": with uniform weights each head's output is the mean of its values; look at what forward does "
                      "after the attention for this sequence")
    return None


@check("mha_gradients", part=PART, test_cell=CELL, points=2)
def mha_gradients(student: Student) -> str | None:
    """Gradients reach x and every weight and bias of W_q, W_k, W_v, W_o through the context, as the reference's.

    15 examples (no mask or a bool padding mask), backpropagating sum(context * g) + sum(weights * g'),
    or sum(context * g) alone when the weights come back detached (the notebook asks for the weights
    to look at, not for a graph behind them; the context must carry gradients, or nothing trains).
    Where the forward values are wrong (other checks report that) only the flow of gradients to x
    through the context is judged.  A module without a bias in W_q, W_k, W_v or W_o fails here, and
    only here: the other checks judge it with those biases taken as zero.
    """
    missing_bias = without_bias(student)
    if missing_bias:
        raise CheckFailed(f"{', '.join(missing_bias)} {'has' if len(missing_bias) == 1 else 'have'} no bias; the "
                          "notebook asks for nn.Linear(embed_dim, embed_dim), which has one (the other checks took "
                          "the missing biases as zero)")

    def judge(case: MhaCase, got: dict[str, Any], rerun: Rerun) -> str | None:
        problem = shape_problem(case, got)
        if problem:
            return problem
        through_weights = bool(got["weights_requires_grad"])
        weights_term = " + sum(weights * g')" if through_weights else ""
        intro = f"backpropagating sum(context * g){weights_term}:\n"
        if not got["context_requires_grad"]:
            return (f"{intro}expected a gradient to flow back through the context vector you return, but it is "
                    "detached from the graph: look for .detach(), .data, torch.no_grad(), or a tensor rebuilt from "
                    "numbers in forward")
        names = ["x"] + [f"{layer}.{kind}" for layer in LAYERS for kind in ("weight", "bias")]
        if not forward_right(case, got):
            names = ["x"]
        missing = [name for name in names if got.get(f"grad_{name}") is None]
        if missing:
            return (f"{intro}expected gradients with respect to x and every parameter of W_q, W_k, W_v, W_o; none "
                    f"reaches {', '.join(missing)}: is it used in forward, through torch operations (no .detach(), "
                    ".data or numpy on the way)?")
        if len(names) == 1:
            return None
        expected = mha_expected(case, grads=True, through_weights=through_weights)
        wrong = [name for name in names
                 if not close(got[f"grad_{name}"], expected[f"grad_{name}"], FLOAT32_VS_FLOAT64)]
        if wrong:
            first = wrong[0]
            also = f" (also wrong: {', '.join(wrong[1:])})" if wrong[1:] else ""
            return (intro + describe_mismatch(f"the gradient with respect to {first}", expected[f"grad_{first}"],
                                              got[f"grad_{first}"]) + also
                    + ". Your forward values are right: look for an operation whose gradient differs from its "
                      "value's (a .detach() or .data inside forward)")
        return None

    return run_module_check(student, mha_cases(("none", "padding")), 15, judge, grads=True)


@check("mha_any_shape", part=PART, test_cell=CELL, points=1)
def mha_any_shape(student: Student) -> str | None:
    """One module works on inputs of any batch size and sequence length, called one after another.

    6 examples of 2-4 calls each (batch 1-5, seq_len 1-8): no size may be fixed at construction
    time or kept from an earlier call.  Each call must give the reference's values or, for a module
    that is wrong anyway (other checks report that), what a fresh module gives on that input alone.
    """
    def judge(case: SizesCase, got: dict[str, Any], rerun: Rerun) -> str | None:
        first = case.calls()[0]     # whose parameters every call uses
        if len(got["calls"]) != len(case.sizes):
            return f"{len(got['calls'])} results for {len(case.sizes)} calls"
        for number, (call, result) in enumerate(zip(case.calls(), got["calls"]), start=1):
            expected = mha_expected_with(first, call)
            if same_forward(result, expected):
                continue
            fresh = rerun(xs=[call.arrays["x"]])["calls"][0]
            if same_forward(result, fresh):
                continue        # wrong, but as wrong as a fresh module: the other checks' business
            key = "context" if not close(result["context"], expected["context"], FLOAT32_VS_FLOAT64) else "weights"
            what = "context vector" if key == "context" else "attention weights"
            hint = (" A fresh module gives the right answer on this input alone: does your module keep sizes or "
                    "tensors from an earlier call?" if same_forward(fresh, expected) else "")
            return (f"call {number}, on x of shape {call.context_shape}: "
                    + describe_mismatch(f"the {what}", expected[key], result[key]) + "." + hint)
        return None

    runner = ModuleCaseRunner(student, "mha_sequence")
    for_all(with_student_biases(student, sizes_cases),
            lambda case: runner(case, case.request, lambda got, rerun: judge(case, got, rerun)), examples=6)
    return runner.note()


@check("mha_inputs_unchanged", part=PART, test_cell=CELL, points=1)
def mha_inputs_unchanged(student: Student) -> str | None:
    """forward leaves x and the mask as they were (nothing is modified in place).

    10 examples, without a mask and with bool masks of the shapes of mha_mask.
    """
    def judge(case: MhaCase, got: dict[str, Any], rerun: Rerun) -> str | None:
        for name in ("x", "mask"):
            before = case.arrays[name]
            after = got.get(f"{name}_after")
            if before is None:
                continue
            if after is None or after.shape != before.shape or not np.array_equal(after, before):
                return (f"forward changed its argument {name} in place (an in-place operation such as `{name} += ...` "
                        f"or `{name}.masked_fill_(...)`); compute new tensors instead, the caller still needs {name}")
        return None

    return run_module_check(student, mha_cases(("none",) + MODULE_MASK_KINDS), 10, judge)
