"""The learning check (test cell test_fixed_learning): the classifier trains with a correct fixed layer only.

The grader owns the labels, the batch order and the loss (:mod:`autograder.assignment.learning_recipe`);
the worker only runs the classifier forward and applies the gradient it is sent.  The fast tests drive
the check's loop with a stand-in for the worker; the slow ones grade fixtures for ``fixed_layer_learns``
alone, in a real worker: tests/submissions/part_b/expected.json (``_fixed_layer_learns``) and
tests/submissions/forged_learning/expected.json.  The threshold itself is benchmarks/learning_threshold.py's.
"""
from __future__ import annotations

import importlib
import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from verdicts import assert_as_expected

from autograder.assignment import course, course_data, learning_recipe, reference
from autograder.assignment.parts import PARTS
from autograder.checks import ALL_CHECKS, fixed_learning
from autograder.checks.registry import isolated_torch
from autograder.errors import CheckFailed
from autograder.grading import engine
from autograder.probes import fixed_learning as learning_probes

SUBMISSIONS = Path(__file__).parents[1] / "submissions"
LEARNS = fixed_learning.fixed_layer_learns
PART_B = json.loads((SUBMISSIONS / "part_b" / "expected.json").read_text())["_fixed_layer_learns"]
FORGED = json.loads((SUBMISSIONS / "forged_learning" / "expected.json").read_text())
GAPS = FORGED["_known_gaps"]
BATCHES = -(-course_data.DATA["n_train"] // learning_recipe.TRAINING["batch_size"])


def fixtures(expected: dict[str, Any]) -> list[str]:
    return sorted(name for name in expected if not name.startswith("_"))


def grade(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(engine, "ALL_CHECKS", (LEARNS,))
    return engine.grade_submission(path, parts=[LEARNS.part])


class StandIn:
    """A worker that answers every step with ``reply(tokens)``, recording what it was sent."""

    def __init__(self, reply: Any) -> None:
        self.reply, self.sent, self.timeouts = reply, [], []

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> Any:
        self.sent.append((probe, kwargs))
        self.timeouts.append(timeout)
        return {} if probe == "start_learning" else self.reply(kwargs["tokens"])


def synthetic_data() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    n, length = course_data.DATA["n_train"], course_data.DATA["max_len"]
    return {"train_x": rng.integers(2, 50, (n, length)), "train_y": rng.integers(0, 2, n), "vocab_size": 50,
            "heldout_x": rng.integers(2, 50, (4, length)), "heldout_y": rng.integers(0, 2, 4)}


def test_the_learning_check_is_registered():
    assert LEARNS in ALL_CHECKS and LEARNS.test_cell == "test_fixed_learning"


def test_no_label_reaches_the_worker_and_the_loss_is_the_graders():
    data = synthetic_data()
    worker = StandIn(lambda tokens: {"logits": np.zeros((len(tokens), 2), np.float32)})
    losses = fixed_learning.train_in_worker(worker, data)
    assert losses == pytest.approx([math.log(2)] * learning_recipe.TRAINING["epochs"])
    assert [probe for probe, _ in worker.sent] == ["start_learning"] + ["learning_step"] * (
        BATCHES * learning_recipe.TRAINING["epochs"])
    assert set(worker.sent[0][1]) == {"vocab_size", "seed", "lr", "model"}
    rows = {row.tobytes() for row in data["train_x"]}
    for _, kwargs in worker.sent[1:]:
        assert set(kwargs) == {"tokens", "grad"}
        assert all(row.tobytes() in rows for row in kwargs["tokens"])
    assert all(0 < timeout <= fixed_learning.STEP_SECONDS for timeout in worker.timeouts)


@pytest.mark.parametrize(("reply", "message"), [
    (lambda t: {"logits": np.zeros((len(t) - 1, 2), np.float32)}, "gave logits of shape (31, 2) for a batch of 32"),
    (lambda t: {"logits": np.zeros((len(t), 3), np.float32)}, "gave logits of shape (32, 3) for a batch of 32"),
    (lambda t: {"logits": np.zeros((len(t), 2), np.int64)}, "no logits came back"),
    (lambda t: {"logits": [[0.0, 0.0]] * len(t)}, "no logits came back"),
    (lambda t: {}, "no logits came back"),
    (lambda t: [], "no logits came back"),
    (lambda t: {"logits": np.full((len(t), 2), np.nan, np.float32)}, "logits are NaN or infinite"),
    (lambda t: {"logits": np.full((len(t), 2), np.inf, np.float32)}, "logits are NaN or infinite"),
    (lambda t: {"problem": "FixedTransformerEncoderLayer.forward returned an output of shape (1,)"},
     "at training step 1 (epoch 1): FixedTransformerEncoderLayer.forward returned an output of shape (1,)"),
], ids=["too few rows", "three columns", "integers", "a list", "no logits", "not a dict", "NaN", "inf",
        "the worker's message"])
def test_a_reply_that_is_not_a_batch_of_logits_fails_clearly(reply, message):
    with pytest.raises(CheckFailed, match="^at training step 1 \\(epoch 1\\)") as failure:
        fixed_learning.train_in_worker(StandIn(reply), synthetic_data())
    assert message in str(failure.value) and "Traceback" not in str(failure.value)


def test_the_run_stops_at_its_time_budget(monkeypatch):
    monkeypatch.setattr(fixed_learning, "TRAINING_SECONDS", 0.0)
    with pytest.raises(CheckFailed, match="took more than 0 s"):
        fixed_learning.train_in_worker(StandIn(lambda t: {}), synthetic_data())


@pytest.mark.slow
def test_the_graders_loss_is_the_course_training_loss():
    """The same order, dropout draws and arithmetic as the course's train_classifier, to the last bit."""
    namespace = course.namespace(course.PART_B_CELLS)
    namespace["FixedTransformerEncoderLayer"] = reference.PostLNEncoderLayer

    class InProcess:
        def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
            return getattr(learning_probes, probe)(namespace, **kwargs)

    data = course_data.review_tensors()
    with isolated_torch():
        losses = fixed_learning.train_in_worker(InProcess(), data)
    tensors = {key: torch.from_numpy(data[key]) for key in ("train_x", "train_y", "heldout_x", "heldout_y")}
    with isolated_torch():
        _, history = namespace["train_classifier"](reference.PostLNEncoderLayer,
                                                   {**tensors, "vocab": dict.fromkeys(range(data["vocab_size"]))},
                                                   seed=learning_recipe.SEED, **learning_recipe.TRAINING,
                                                   **learning_recipe.MODEL)
    assert losses == history["train_loss"]


@pytest.mark.slow
@pytest.mark.parametrize("name", fixtures(PART_B))
def test_only_a_correct_fix_learns(monkeypatch, name):
    assert_as_expected(grade(SUBMISSIONS / "part_b" / name, monkeypatch), PART_B[name])


@pytest.mark.slow
@pytest.mark.parametrize("name", fixtures(FORGED))
def test_forging_gains_nothing_and_honest_layers_are_judged_on_their_logits(monkeypatch, name):
    assert_as_expected(grade(SUBMISSIONS / "forged_learning" / name, monkeypatch), FORGED[name])


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known gap: the gradient sent back reveals the labels (SECURITY.md)")
@pytest.mark.parametrize("name", fixtures(GAPS))
def test_known_gaps(monkeypatch, name):
    assert_as_expected(grade(SUBMISSIONS / "forged_learning" / name, monkeypatch), GAPS[name])


@pytest.mark.slow
def test_graded_beside_the_other_checks_it_draws_from_no_random_state_of_the_grader(monkeypatch):
    """Registered ``alongside``, it runs without the restoring of :func:`isolated_torch`, at the same time
    as checks that draw from the process's generators: it must leave them alone.  (The libraries the
    engine imports meanwhile are imported first: one of them draws a number when it is imported.)"""
    assert LEARNS.alongside
    for name in next(part for part in PARTS if part.tag == LEARNS.part).grader_imports:
        importlib.import_module(name)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    states = random.getstate(), np.random.get_state()[1].copy(), torch.random.get_rng_state()
    monkeypatch.setattr(engine, "ALL_CHECKS", (LEARNS,))
    report = engine.grade_submission(SUBMISSIONS / "part_b" / "fix_post.py", parts=[LEARNS.part], concurrent=True)
    assert report.score == LEARNS.points, report.text()
    assert random.getstate() == states[0] and np.array_equal(np.random.get_state()[1], states[1])
    assert torch.equal(torch.random.get_rng_state(), states[2])
