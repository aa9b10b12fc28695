"""Probe for Part B's learning check: train the course classifier with the student's layer."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from autograder.probes import StudentAPIError, defined_by_student, probe


@probe
def train_with_fixed_layer(namespace: dict[str, Any], train_x: np.ndarray, train_y: np.ndarray,
                           heldout_x: np.ndarray, heldout_y: np.ndarray, vocab_size: int, seed: int,
                           training: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """Run the course's train_classifier with FixedTransformerEncoderLayer; return its per-epoch history."""
    layer_cls = defined_by_student(namespace, "FixedTransformerEncoderLayer")
    if not isinstance(layer_cls, type) or not issubclass(layer_cls, torch.nn.Module):
        raise StudentAPIError("FixedTransformerEncoderLayer should be a class derived from nn.Module")
    data = {"train_x": torch.from_numpy(train_x), "train_y": torch.from_numpy(train_y),
            "heldout_x": torch.from_numpy(heldout_x), "heldout_y": torch.from_numpy(heldout_y),
            "vocab": dict.fromkeys(range(vocab_size))}
    _, history = namespace["train_classifier"](layer_cls, data, seed=seed, **training, **model)
    return {key: [float(value) for value in values] for key, values in history.items()}
