"""Part B's behaviour checks (the attention hook, the fixed encoder layer) on small submissions.

Each file under ``tests/submissions/part_b/`` is graded once through the engine (a real worker);
the learning check (``fixed_layer_learns``, a training run per submission) is left out here: it
has its own tests and threshold benchmark.  A correct submission must pass every check; a wrong
one must fail exactly the checks listed for it, with a message that names its mistake.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autograder.grading import engine
from autograder.checks import encoder, hook
from autograder.probes.encoder import match_parameters
from verdicts import assert_verdicts

SUBMISSIONS = Path(__file__).parent / "submissions" / "part_b"
HOOK_CHECKS = {"hook_stores_weights": 3, "hook_on_last_layer": 1, "hook_detached_for_plotting": 2,
               "hook_keeps_training": 2, "hook_remove_stops": 2}
FIX_CHECKS = {"fixed_layer_forward": 6, "fixed_layer_gradients": 3, "fixed_layer_dropout": 3,
              "fixed_layer_padding_mask": 3}
EVERY_FIX_CHECK = tuple(FIX_CHECKS)

# submission: {failing check: text its message must contain}; every other check must pass.
HOOKS: dict[str, dict[str, str]] = {
    "hook_correct.py": {},
    "hook_alt.py": {},
    "hook_first_layer.py": {"hook_on_last_layer": "your hook is on layers.0.mha"},
    "hook_encoder_layer.py": {"hook_on_last_layer": "on the encoder layer model.layers[-1] itself"},
    "hook_context.py": {"hook_stores_weights": "is the context vector output[0]"},
    "hook_attached.py": {"hook_detached_for_plotting": "still attached to the autograd graph"},
    "hook_backward_too.py": {"hook_stores_weights": "training step 1: 2",
                             "hook_on_last_layer": "layers.3.mha (backward hook)",
                             "hook_remove_stops": "after handle.remove() your hook still stored"},
    "hook_no_handle.py": {"hook_remove_stops": "register_attention_hook returned None"},
    "hook_shared_buffer.py": {"hook_stores_weights": "a view of memory that is overwritten later"},
    "hook_changes_training.py": {"hook_keeps_training": "without a hook they are"},
    "hook_returns_output.py": {"hook_keeps_training": "return None"},
    "hook_global_list.py": {name: "nothing was added to the list" for name in HOOK_CHECKS
                            if name != "hook_on_last_layer"},
}
FIXES: dict[str, dict[str, str]] = {
    "fix_post.py": {},
    "fix_pre.py": {},
    "fix_alt.py": {},
    "buggy_unchanged.py": {"fixed_layer_forward": "out = norm2(dropout2(ffn(h))): h is not added back"},
    "fix_residual_after_norm.py": {"fixed_layer_forward": "h = norm1(dropout1(attention(x))) + x: the residual is "
                                                          "added after the norm"},
    "fix_only_attention_residual.py": {"fixed_layer_forward": "out = norm2(dropout2(ffn(h))): h is not added back"},
    "fix_only_ffn_residual.py": {"fixed_layer_forward": "h = norm1(dropout1(attention(x))): x is not added back"},
    "fix_attention_discarded.py": {"fixed_layer_forward": "the attention output is thrown away"},
    "fix_norms_swapped.py": {"fixed_layer_forward": "norm1 and norm2 are swapped"},
    "fix_ffn_on_attention.py": {"fixed_layer_forward": "applied to the raw attention output"},
    "fix_mixed.py": {"fixed_layer_forward": "use one wiring for both"},
    "fix_no_dropout.py": {"fixed_layer_dropout": "attention sub-layer (dropout1): no dropout"},
    "fix_dropout_twice.py": {"fixed_layer_dropout": "dropout applied twice"},
    "fix_mask_dropped.py": {"fixed_layer_padding_mask": "does not pass the mask on to self.mha"},
    "fix_detached_residual.py": {"fixed_layer_gradients": "the gradient w.r.t. the input x differs"},
}
WRONG_WIRINGS = [name for name, failing in FIXES.items() if "fixed_layer_forward" in failing]
for _name in WRONG_WIRINGS:   # a wrong wiring is wrong everywhere: the other checks point back to the forward one
    FIXES[_name].update({check: "fixed_layer_forward says what it computes" for check in EVERY_FIX_CHECK[1:]})


@pytest.fixture(scope="module")
def graded():
    """grade(file, part) -> GradeReport, each (file, part) graded once, without the learning check."""
    reports: dict[tuple[str, str], object] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "ALL_CHECKS", tuple(entry for entry in engine.ALL_CHECKS
                                                  if entry.name != "fixed_layer_learns"))

        def grade(name: str, part: str, *, again: bool = False):
            if again or (name, part) not in reports:
                report = engine.grade_submission(SUBMISSIONS / name, parts=[part])
                if again:
                    return report
                reports[(name, part)] = report
            return reports[(name, part)]

        yield grade


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hook_submission(graded, name):
    assert_verdicts(graded(name, "part-b-hook"), HOOK_CHECKS, HOOKS[name])


@pytest.mark.parametrize("name", sorted(FIXES))
def test_fix_submission(graded, name):
    assert_verdicts(graded(name, "part-b-fix"), FIX_CHECKS, FIXES[name])


def test_hook_and_fix_checks_sum_to_the_notebook_points():
    from autograder.checks import ALL_CHECKS

    by_cell: dict[str, float] = {}
    for entry in ALL_CHECKS:
        by_cell[entry.test_cell] = by_cell.get(entry.test_cell, 0) + entry.points
    assert by_cell["test_attention_hook"] == sum(HOOK_CHECKS.values()) == 10
    assert by_cell["test_fixed_encoder"] == sum(FIX_CHECKS.values()) == 15


def test_pre_ln_is_recognised_as_such(graded):
    forward = next(r for r in graded("fix_pre.py", "part-b-fix").results if r.name == "fixed_layer_forward")
    assert "pre-LN" in forward.output


def test_a_hook_that_changes_training_is_judged_on_its_first_pass_only(graded):
    stores = next(r for r in graded("hook_changes_training.py", "part-b-hook").results
                  if r.name == "hook_stores_weights")
    assert stores.score == 3 and "only the first pass compared" in stores.output


def test_grading_is_deterministic(graded):
    """Hypothesis is derandomized and the diagnosis deterministic: the same file gets the same report."""
    name, part = "fix_residual_after_norm.py", "part-b-fix"
    assert graded(name, part, again=True).to_json() == graded(name, part).to_json()


# ---------------------------------------------------------------------------------------------
# The grader's own pieces, in process (no worker)

@pytest.mark.parametrize("train", [False, True])
@pytest.mark.parametrize("form", ["post", "pre"])
def test_variant_library_reproduces_the_reference_layers(form, train):
    """The diagnosis computes wirings as plain functions; its correct ones equal the reference layers."""
    for case in (encoder.LayerCase(2, 5, (2, 3), "padded", 11), encoder.LayerCase(1, 3, (4, 2), "none", 3)):
        expected = encoder.reference_result(form, case, train=train)["output"]
        got = encoder.Variants(case).output(encoder.Wiring(form, form), train=train, seed=case.seed)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_every_wrong_wiring_differs_from_both_correct_ones():
    """Otherwise a wrong fix could pass, or the diagnosis could name a correct layer as a mistake."""
    case = encoder.LayerCase(2, 5, (2, 3), "all", 5)
    variants = encoder.Variants(case)
    correct = [variants.output(encoder.Wiring(form, form), train=False, seed=0) for form in encoder.CORRECT]
    for swapped in (False, True):
        for first in encoder.FIRST_FORMS:
            for second in encoder.SECOND_FORMS:
                if not swapped and first == second and first in encoder.CORRECT:
                    continue
                got = variants.output(encoder.Wiring(first, second, swapped), train=False, seed=0)
                assert all(np.abs(got - right).max() > 1e-3 for right in correct), (first, second, swapped)


def test_parameters_are_matched_by_name_then_by_shape():
    wanted = [("ffn.0.weight", (9, 4)), ("ffn.0.bias", (9,)), ("ffn.2.weight", (4, 9)), ("ffn.2.bias", (4,)),
              ("norm1.weight", (4,))]
    named = [("norm1.weight", (4,)), ("ffn.up.weight", (9, 4)), ("ffn.up.bias", (9,)), ("ffn.down.weight", (4, 9)),
             ("ffn.down.bias", (4,)), ("scale", (1,))]
    mapping, missing, extra = match_parameters(named, wanted)
    assert mapping == {"ffn.0.weight": "ffn.up.weight", "ffn.0.bias": "ffn.up.bias", "ffn.2.weight": "ffn.down.weight",
                       "ffn.2.bias": "ffn.down.bias", "norm1.weight": "norm1.weight"}
    assert missing == [] and extra == ["scale"]


def test_the_reference_hook_stores_the_last_layers_weights():
    run = hook.reference_run()
    assert run["run"]["lengths"] == [1, 2, 3, 4, 4, 4, 4]
    last = run["layers"][-1]
    for index, item in enumerate(run["run"]["items"]):
        np.testing.assert_array_equal(item["array"], last[index][1])


def test_a_failing_diagnosis_still_gives_a_verdict():
    failure = encoder.Diagnosed(lambda: 1 / 0)
    assert "tell the course staff" in str(failure)


def test_the_notebook_front_door_runs_the_same_checks_on_live_objects():
    """In the instructor's kernel (no worker): the source notebook's own solution cells pass every check."""
    from autograder.assignment import course
    from autograder.notebook import check_namespace

    namespace = course.namespace(course.PART_B_CELLS)
    solutions = course.cells(("sdpa", "mha", "attention_hook", "fixed_encoder"))
    for grade_id, source in solutions.items():
        exec(compile(source, f"<{grade_id}>", "exec"), namespace)
    for cell, checks in (("test_attention_hook", HOOK_CHECKS), ("test_fixed_encoder", FIX_CHECKS)):
        assert_verdicts(check_namespace(cell, namespace), checks, {})
