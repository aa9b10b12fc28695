"""Probes for Part C: call the student's compute_metrics and tokenize_fn, report what they return.

The part's trusted setup (``autograder.assignment.course.PART_C_SETUP``) has loaded ``transformers`` and bound
``tokenizer`` and ``MAX_LENGTH`` before the student's code runs; nothing here imports transformers
at module level, so that other parts' workers do not pay for it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from autograder.probes import StudentAPIError, defined_by_student, probe


def _eval_prediction(logits: np.ndarray, labels: np.ndarray) -> Any:
    """What the Trainer passes: an EvalPrediction (it unpacks as (logits, labels); .predictions, .label_ids)."""
    try:
        from transformers import EvalPrediction
    except ImportError:    # pragma: no cover - the part's setup has imported transformers
        return (logits, labels)
    return EvalPrediction(predictions=logits, label_ids=labels)


def _number(value: Any) -> float | None:
    """The value as a float when it holds exactly one number (a float, an int, a 1-element array or tensor)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, np.number)):
        return float(value)
    try:
        if isinstance(value, np.ndarray):
            return float(value.reshape(-1)[0]) if value.size == 1 and value.dtype.kind in "fiu" else None
        numel = getattr(value, "numel", None)
        if callable(numel) and numel() == 1:
            return float(value.item())
    except (TypeError, ValueError, RuntimeError):
        return None
    return None


@probe
def compute_metrics(namespace: dict[str, Any], logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Call compute_metrics(EvalPrediction(logits, labels)); report the result's keys, its accuracy's type and value."""
    result = defined_by_student(namespace, "compute_metrics")(_eval_prediction(np.array(logits), np.array(labels)))
    report: dict[str, Any] = {"type": type(result).__name__, "keys": None, "value_type": None,
                              "is_float": False, "value": None}
    if isinstance(result, dict):
        report["keys"] = sorted(str(key) for key in result)
        if "accuracy" in result:
            value = result["accuracy"]
            kind = type(value)
            name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
            report.update(value_type=name, is_float=isinstance(value, float), value=_number(value))
    return report


def _rows(value: Any, what: str) -> list[list[int]]:
    """input_ids or attention_mask as lists of ints, one per text (lists, arrays or tensors)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or not all(isinstance(row, (list, tuple)) for row in value):
        raise StudentAPIError(f"tokenize_fn's {what} should hold one list of token ids per text of the batch")
    return [[int(token) for token in row] for row in value]


@probe
def tokenize(namespace: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    """Call tokenize_fn({"text": texts}); report the keys, each text's input_ids and attention_mask."""
    encoded = defined_by_student(namespace, "tokenize_fn")({"text": list(texts)})
    if not hasattr(encoded, "keys") or not hasattr(encoded, "__getitem__"):
        raise StudentAPIError(f"tokenize_fn should return the tokenizer's output (a dict with input_ids and "
                              f"attention_mask), got {type(encoded).__name__}")
    keys = sorted(str(key) for key in encoded.keys())
    return {"keys": keys,
            "input_ids": _rows(encoded["input_ids"], "input_ids") if "input_ids" in keys else None,
            "attention_mask": _rows(encoded["attention_mask"], "attention_mask") if "attention_mask" in keys else None}
