"""Part B: does the classifier learn with the student's fixed layer?

The recipe and threshold come from ``benchmarks/learning_threshold.py``: over many seeds, the
provided buggy stack never gets its training loss below the threshold and every correct fix
(post-LN or pre-LN) always does.  Wrong fixes that still learn are the behaviour check's to catch.
"""
from __future__ import annotations

import hashlib
import math
import os
from functools import cache
from pathlib import Path

import numpy as np

from autograder.assignment import course
from autograder.checks.registry import Student, check
from autograder.errors import CheckFailed

DATA = dict(n_train=600, n_heldout=400, max_len=48, max_words=5000, split_seed=0)
TRAINING = dict(epochs=5, lr=5e-3, batch_size=32)
MODEL = dict(embed_dim=32, num_heads=4, ffn_dim=64, num_layers=4)
SEED = 0
THRESHOLD = 0.59
TRAINING_SECONDS = 120.0
CHANCE = math.log(2)


def _cache_dir() -> Path:
    return Path(os.environ.get("AUTOGRADER_CACHE", Path.home() / ".cache" / "transformer-autograder"))


@cache
def review_tensors() -> dict[str, np.ndarray | int]:
    """The tokenized reviews, made once per machine and course version (a few seconds) and cached on disk."""
    source = "".join(course.cells(("partb_data",)).values()) + repr(sorted(DATA.items()))
    path = _cache_dir() / f"reviews-{hashlib.sha256(source.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] if stored[key].ndim else int(stored[key]) for key in stored.files}
    data = course.namespace(("partb_data",))["load_review_tensors"](**DATA)
    arrays: dict[str, np.ndarray | int] = {key: data[key].numpy()
                                           for key in ("train_x", "train_y", "heldout_x", "heldout_y")}
    arrays["vocab_size"] = len(data["vocab"])
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(partial, **arrays)
    partial.replace(path)
    return arrays


@check("fixed_layer_learns", part="part-b-fix", test_cell="test_fixed_learning", points=5)
def fixed_layer_learns(student: Student) -> str:
    """With your FixedTransformerEncoderLayer the classifier's training loss drops well below chance."""
    data = review_tensors()
    history = student.call("train_with_fixed_layer", timeout=TRAINING_SECONDS, **data, seed=SEED,
                           training=TRAINING, model=MODEL)
    losses = history.get("train_loss") or []
    if not losses or not all(isinstance(v, float) for v in losses):
        raise CheckFailed("training returned no losses")
    final = losses[-1]
    curve = ", ".join(f"{value:.3f}" for value in losses)
    summary = (f"training loss per epoch: {curve} (chance is ln 2 = {CHANCE:.3f}); "
               f"learning means the last epoch's loss is below {THRESHOLD:.2f}")
    if not final < THRESHOLD:
        raise CheckFailed(f"{summary}.\nThe classifier built from your layer did not learn: a stack of layers "
                          "only trains when each sub-layer's input is added back to its output (the residual "
                          "connections); check both sub-layers of your forward.")
    return summary
