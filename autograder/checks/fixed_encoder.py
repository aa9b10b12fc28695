"""Part B: the student's FixedTransformerEncoderLayer, compared with a correct layer.

Every case (:mod:`autograder.checks.encoder_cases`) builds the student's layer with the parameters
of a reference layer, runs it in float64 in the worker and compares with our post-LN and pre-LN
layers computed here with the same parameters, input and dropout seed.  A case passes when
everything matches one of the two.

``fixed_layer_forward`` (eval mode, no padding: outputs and attention weights),
``fixed_layer_gradients`` (w.r.t. the input and every parameter), ``fixed_layer_dropout`` (train
mode, same dropout masks: dropout1 on the attention output, dropout2 on the feed-forward output),
``fixed_layer_padding_mask`` (left-padded masks: the mask reaches attention).  A layer wired
wrongly fails all four, since its output is wrong everywhere; a correct wiring with a dropout,
gradient or mask problem loses only that check.  A wrong output's message names what the layer
computes (:mod:`autograder.checks.encoder_mistakes`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from autograder.checks.compare import FLOAT64_VS_FLOAT64, close, describe_mismatch
from autograder.checks.encoder_cases import CORRECT, FORMULAS, LayerCase, cases, matching_form, reference_result
from autograder.checks.encoder_mistakes import DeferredDiagnosis, diagnose_dropout, diagnose_weights, diagnose_wiring
from autograder.checks.registry import Student, check, for_all
from autograder.errors import CheckFailed

PART = "part-b-fix"
CELL = "test_fixed_encoder"


def run_layer(student: Student, case: LayerCase, **options: Any) -> dict[str, Any]:
    return student.call("encoder_layer", **case.request(**options))


def _wrong_wiring(case: LayerCase, got: dict[str, Any], intro: str) -> CheckFailed:
    correct_output = any(_same(got["output"], reference_result(form, case)["output"]) for form in CORRECT)

    def build() -> str:
        head = [f"{case}:", intro,
                f"A correct layer computes {FORMULAS['post']} (post-LN, the paper's; pre-LN, {FORMULAS['pre']}, "
                "is also accepted)."]
        if correct_output:
            return "\n".join(head + [diagnose_weights(case, got["weights"])])
        mismatch = describe_mismatch("the layer's output", reference_result("post", case)["output"], got["output"])
        return "\n".join(head + [mismatch + " (post-LN)", diagnose_wiring(case, got["output"])])

    return DeferredDiagnosis(build, brief=f"{case}:\n{intro}\nLook at how each sub-layer's output is combined with "
                                          "its input and normalised, against the encoder layer the notebook describes.")


def _same(got: Any, expected: np.ndarray) -> bool:
    return close(got, expected, FLOAT64_VS_FLOAT64)


GATE_CASE = LayerCase(batch=2, length=5, shape=(2, 3), mask="all", seed=1)


def _correct_form_or_fail(student: Student, case: LayerCase, what: str) -> str:
    """The correct wiring the layer follows on ``case`` (eval mode); else a short failure naming fixed_layer_forward."""
    form = matching_form(case, run_layer(student, case))
    if form is None:
        raise _wrong_elsewhere(case, what)
    return form


def _wrong_elsewhere(case: LayerCase, what: str) -> CheckFailed:
    return CheckFailed(f"{case}:\nyour layer's eval-mode output is wrong (fixed_layer_forward says what it computes), "
                       f"so {what} cannot match a correct layer's either.")


@check("fixed_layer_forward", part=PART, test_cell=CELL, points=6)
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
def fixed_layer_gradients(student: Student) -> None:
    """Gradients w.r.t. the input and every parameter are those of a correct encoder layer."""
    _correct_form_or_fail(student, GATE_CASE, "its gradients")

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
        if not _same(got.get("grad_x"), expected["grad_x"]):
            if got.get("grad_x") is None:
                problems.append("no gradient reaches the input x")
            else:
                problems.append(describe_mismatch("the gradient w.r.t. the input x", expected["grad_x"], got["grad_x"])
                                + ": does your forward detach x or part of a residual path (.detach(), .data, "
                                  "torch.no_grad())?")
        wrong = [name for name, value in expected["grads"].items() if not _same(got["grads"].get(name), value)]
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
def fixed_layer_dropout(student: Student) -> None:
    """In train mode (same random seed), dropout1 and dropout2 drop what a correct layer drops."""
    _correct_form_or_fail(student, GATE_CASE, "its train-mode output")

    def test(case: LayerCase) -> None:
        form = _correct_form_or_fail(student, case, "its train-mode output")
        got = run_layer(student, case, train=True)
        expected = reference_result(form, case, train=True)
        if _same(got["output"], expected["output"]) and _same(got["weights"], expected["weights"]):
            return
        if not _same(got["weights"], expected["weights"]):
            raise CheckFailed(f"{case}, train mode, torch.manual_seed({case.seed}) before the forward pass:\n"
                              + diagnose_weights(case, got["weights"]))
        raise DeferredDiagnosis(lambda: f"{case}, train mode, torch.manual_seed({case.seed}) before the forward pass:\n"
                        + describe_mismatch("the layer's output", expected["output"], got["output"])
                        + f" ({CORRECT[form]})\n" + diagnose_dropout(case, form, got["output"]))

    for_all(cases(("none", "all")), test, examples=6)


@check("fixed_layer_padding_mask", part=PART, test_cell=CELL, points=3)
def fixed_layer_padding_mask(student: Student) -> None:
    """With a padding mask, the layer passes it to attention (padded keys get no weight) and matches a correct layer."""
    _correct_form_or_fail(student, GATE_CASE, "its output with padding")

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
        _correct_form_or_fail(student, unpadded, "its output with padding")
        raise _wrong_wiring(case, got, "with a padding mask your layer's output or attention weights are wrong.")

    for_all(cases(("padded",)), test, examples=8)
