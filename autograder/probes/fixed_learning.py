"""Probes for Part B's learning check: the worker's half of the grader's training run.

The worker builds the course classifier from the student's layer, runs it forward on the token ids
the grader sends and applies the gradient the grader sends back; it never gets a label and computes
no loss (the grader's half is :mod:`autograder.assignment.learning_recipe`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from autograder.probes import StudentAPIError, defined_by_student, probe, to_array

# The classifier being trained, kept between the calls of one learning run.  The grader's verdict
# never rests on it: only on the logits each step returns for the token ids the grader sent.
_RUN: dict[str, Any] = {}


@probe
def start_learning(namespace: dict[str, Any], vocab_size: int, seed: int, lr: float,
                   model: dict[str, Any]) -> dict[str, Any]:
    """Build the course's SentimentClassifier from FixedTransformerEncoderLayer (seeded) and its Adam."""
    _RUN.clear()
    layer_cls = defined_by_student(namespace, "FixedTransformerEncoderLayer")
    if not isinstance(layer_cls, type) or not issubclass(layer_cls, torch.nn.Module):
        raise StudentAPIError("FixedTransformerEncoderLayer should be a class derived from nn.Module")
    namespace["set_seed"](seed)
    classifier = namespace["SentimentClassifier"](vocab_size, layer_cls, **model)
    for layer in classifier.layers:
        layer.register_forward_hook(_check_layer_output)
    _RUN.update(model=classifier, optimizer=torch.optim.Adam(classifier.parameters(), lr=lr))
    return {}


@probe
def learning_step(namespace: dict[str, Any], tokens: np.ndarray, grad: np.ndarray | None) -> dict[str, Any]:
    """Apply ``grad`` (the loss gradient for the last logits) with an Adam step, then the logits for ``tokens``."""
    classifier, optimizer = _RUN["model"], _RUN["optimizer"]
    if grad is not None:
        logits = _RUN.pop("logits")
        optimizer.zero_grad()
        logits.backward(torch.from_numpy(grad).to(logits.dtype))
        optimizer.step()
    classifier.train()
    try:
        logits, _ = classifier(torch.from_numpy(tokens))
    except _LayerOutputError as exc:
        return {"problem": str(exc)}
    _RUN["logits"] = logits
    return {"logits": to_array(logits, "the classifier's logits")}


class _LayerOutputError(StudentAPIError):
    """A layer's output the classifier cannot go on with; the grader gets its message without a traceback."""


def _check_layer_output(layer: torch.nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
    if not isinstance(output, (tuple, list)) or len(output) != 2 or not isinstance(output[0], torch.Tensor):
        raise _LayerOutputError("FixedTransformerEncoderLayer.forward should return a pair (output, "
                                f"attention_weights) with output a tensor; it returned {type(output).__name__}")
    if output[0].shape != inputs[0].shape:
        raise _LayerOutputError(f"FixedTransformerEncoderLayer.forward returned an output of shape "
                                f"{tuple(output[0].shape)} for an input of shape {tuple(inputs[0].shape)}; "
                                "an encoder layer keeps its input's shape, so layers can be stacked")
