"""Probes for Part C: the student's tokenize_fn and compute_metrics."""
from __future__ import annotations

from typing import Any

import numpy as np

from autograder.probes import StudentAPIError, need, probe


@probe
def compute_metrics(namespace: dict[str, Any], logits: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Call compute_metrics((logits, labels)); report its keys and the accuracy's type and value."""
    result = need(namespace, "compute_metrics")((logits, labels))
    if not isinstance(result, dict):
        raise StudentAPIError(f"compute_metrics should return a dict, got {type(result).__name__}")
    accuracy = result.get("accuracy")
    return {"keys": sorted(str(key) for key in result),
            "type": "float" if isinstance(accuracy, float) else type(accuracy).__name__,
            "accuracy": float(accuracy) if isinstance(accuracy, (int, float, np.number)) else None}


@probe
def tokenize(namespace: dict[str, Any], texts: list[str]) -> dict[str, Any]:
    """Call tokenize_fn({"text": texts}); report the keys and each text's input_ids."""
    encoded = need(namespace, "tokenize_fn")({"text": list(texts)})
    if not hasattr(encoded, "keys") or "input_ids" not in encoded:
        raise StudentAPIError("tokenize_fn should return the tokenizer's output (a dict with input_ids)")
    ids = [[int(token) for token in row] for row in encoded["input_ids"]]
    return {"keys": sorted(str(key) for key in encoded.keys()), "input_ids": ids}
