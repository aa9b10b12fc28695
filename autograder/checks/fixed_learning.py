"""Part B: does the classifier learn with the student's fixed layer?

The grader trains it (:mod:`autograder.assignment.learning_recipe`): the worker only runs the course
classifier built from the student's layer forward on the token ids the grader sends and applies the
gradient the grader sends back; the labels and the loss stay in the grading process, so a layer that
rewrites what the training loop records gains nothing.  The recipe and threshold come from
``benchmarks/learning_threshold.py``: over many seeds, the provided buggy stack never gets its
training loss below the threshold and every correct fix (post-LN or pre-LN) always does.  Wrong fixes
that still learn are the behaviour check's to catch.
"""
from __future__ import annotations

import time
from typing import Any

from autograder.assignment import learning_recipe
from autograder.assignment.course_data import review_tensors
from autograder.assignment.learning_recipe import CHANCE, MODEL, SEED, TRAINING
from autograder.checks.registry import Student, check
from autograder.errors import CheckFailed

THRESHOLD = 0.59
# Measured (benchmarks/PARTB_RECIPE.md): an honest run is 96 calls of 0.03-0.07 s, about 4.5 s on a quiet
# core; with 2 cores overloaded, up to 28 s a run, 0.8 s a call (9 s seen once).
TRAINING_SECONDS = 120.0  # the whole run
STEP_SECONDS = 20.0       # each call


def train_in_worker(student: Student, data: dict[str, Any], seed: int = SEED) -> list[float]:
    """The grader's per-epoch training loss of the classifier the worker builds from the student's layer.

    A call that overruns what is left of ``TRAINING_SECONDS`` loses the worker (a flag), as any slow call does.
    """
    deadline = time.monotonic() + TRAINING_SECONDS

    def call(probe: str, **kwargs: Any) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CheckFailed(f"training the classifier built from your layer took more than {TRAINING_SECONDS:g} s "
                              "(an honest run takes a few seconds); is your forward very slow?")
        return student.call(probe, timeout=min(STEP_SECONDS, remaining), **kwargs)

    call("start_learning", vocab_size=data["vocab_size"], seed=seed, lr=TRAINING["lr"], model=MODEL)
    return learning_recipe.train(lambda tokens, grad: call("learning_step", tokens=tokens, grad=grad),
                                 data["train_x"], data["train_y"], seed=seed, epochs=TRAINING["epochs"],
                                 batch_size=TRAINING["batch_size"])


@check("fixed_layer_learns", part="part-b-fix", test_cell="test_fixed_learning", points=5, alongside=True)
def fixed_layer_learns(student: Student) -> str:
    """With your FixedTransformerEncoderLayer the classifier's training loss drops well below chance."""
    losses = train_in_worker(student, review_tensors())
    curve = ", ".join(f"{value:.3f}" for value in losses)
    summary = (f"training loss per epoch: {curve} (chance is ln 2 = {CHANCE:.3f}); "
               f"learning means the last epoch's loss is below {THRESHOLD:.2f}")
    if not losses[-1] < THRESHOLD:
        raise CheckFailed(f"{summary}.\nThe classifier built from your layer did not learn: a stack of layers "
                          "only trains when each sub-layer's input is added back to its output (the residual "
                          "connections); check both sub-layers of your forward.",
                          brief=f"{summary}.\nThe classifier built from your layer did not learn; look at your "
                                "layer's forward.")
    return summary
