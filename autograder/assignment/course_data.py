"""The data the learning run is trained on, made from the course's own loading code once per machine.

It imports neither torch nor nltk unless it has to build the tensors: ``nbgrader autograde`` checks
the cache in its own process before its grading server starts (:mod:`autograder.batch.isolate`).
"""
from __future__ import annotations

import hashlib
import os
from functools import cache
from pathlib import Path

import numpy as np

from autograder.assignment import course

DATA = dict(n_train=600, n_heldout=400, max_len=48, max_words=5000, split_seed=0)


def cache_dir() -> Path:
    return Path(os.environ.get("AUTOGRADER_CACHE", Path.home() / ".cache" / "transformer-autograder"))


@cache
def review_tensors() -> dict[str, np.ndarray | int]:
    """The tokenized reviews, made once per machine and course version (a few seconds) and cached on disk."""
    source = "".join(course.cells(("partb_data",)).values()) + repr(sorted(DATA.items()))
    path = cache_dir() / f"reviews-{hashlib.sha256(source.encode()).hexdigest()[:16]}.npz"
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
