"""The probe of test cell ``test_sdpa``: call the student's scaled_dot_product_attention, report what it returns.

Nothing here judges: the grader compares what comes back with its float64 reference.  Inputs
arrive as numpy arrays and reach the student's code as fresh tensors; when gradients are wanted
the student gets a non-leaf copy of each leaf (as inside MultiHeadAttention, where Q, K and V are
projections), so an in-place edit of an input shows up in ``*_after`` and in
``sdpa_inputs_unchanged`` only, not as an autograd error in the gradient check.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from autograder.probes import (
    as_left,
    backpropagate_outputs,
    defined_by_student,
    grad_of,
    probe,
    student_inputs,
    tensor,
    to_array,
    unpack_pair,
)

SDPA_NAME = "scaled_dot_product_attention"


@probe
def sdpa(namespace: dict[str, Any], Q: np.ndarray, K: np.ndarray, V: np.ndarray, mask: np.ndarray | None = None,
         grad_output: np.ndarray | None = None, grad_weights: np.ndarray | None = None) -> dict[str, Any]:
    """Call scaled_dot_product_attention; return outputs, gradients and the inputs as left after the call."""
    function = defined_by_student(namespace, SDPA_NAME)
    wants_grad = grad_output is not None or grad_weights is not None
    leaves, (q, k, v) = student_inputs((Q, K, V), wants_grad)
    m = tensor(mask)
    output, weights = unpack_pair(function(q, k, v, m), SDPA_NAME)
    result: dict[str, Any] = {"output": to_array(output, "the output"),
                              "weights": to_array(weights, "the attention weights")}
    if wants_grad:
        backpropagate_outputs(result, [("output", output, grad_output), ("weights", weights, grad_weights)])
        result.update(grad_Q=grad_of(leaves[0]), grad_K=grad_of(leaves[1]), grad_V=grad_of(leaves[2]))
    result.update(Q_after=as_left(q), K_after=as_left(k), V_after=as_left(v), mask_after=as_left(m))
    return result
