"""Part A: the student's scaled_dot_product_attention and MultiHeadAttention, by their behaviour."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from hypothesis import strategies as st

from autograder import reference
from autograder.checks.base import CheckFailed, Student, check, describe_mismatch, for_all

PART = "part-a"


@dataclass(frozen=True)
class AttentionCase:
    batch: int
    heads: int
    q_len: int
    k_len: int
    head_dim: int
    seed: int

    def __str__(self) -> str:
        return (f"Q of shape ({self.batch}, {self.heads}, {self.q_len}, {self.head_dim}), "
                f"K and V of shape ({self.batch}, {self.heads}, {self.k_len}, {self.head_dim})")

    def inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.seed)
        shape_q = (self.batch, self.heads, self.q_len, self.head_dim)
        shape_k = (self.batch, self.heads, self.k_len, self.head_dim)
        return (rng.standard_normal(shape_q).astype(np.float32), rng.standard_normal(shape_k).astype(np.float32),
                rng.standard_normal(shape_k).astype(np.float32))


attention_cases = st.builds(AttentionCase, batch=st.integers(1, 3), heads=st.integers(1, 4), q_len=st.integers(1, 6),
                            k_len=st.integers(1, 6), head_dim=st.integers(1, 8), seed=st.integers(0, 2**16))


@check("sdpa_values", part=PART, test_cell="test_sdpa", points=4)
def sdpa_values(student: Student) -> None:
    """scaled_dot_product_attention computes softmax(QK^T/sqrt(d_k))V and returns its weights."""
    def test(case: AttentionCase) -> None:
        Q, K, V = case.inputs()
        got = student.call("sdpa", Q=Q, K=K, V=V)
        expected_out, expected_w = reference.scaled_dot_product_attention(
            *(torch.from_numpy(a).double() for a in (Q, K, V)))
        for what, expected, actual in (("attention weights", expected_w, got["weights"]),
                                       ("output", expected_out, got["output"])):
            if np.shape(actual) != tuple(expected.shape) or not np.allclose(actual, expected.numpy(), rtol=1e-4, atol=1e-5):
                raise CheckFailed(f"{case}:\n{describe_mismatch(what, expected.numpy(), actual)}")

    for_all(attention_cases, test, examples=40)
