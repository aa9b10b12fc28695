"""How a student's numbers are compared with ours, and how they are put into words.

One closeness rule for every check (:func:`close`): ``got`` matches ``expected`` when it has the
same shape and, entry by entry, ``|got - expected| <= atol * scale + rtol * |expected|`` (numpy's
``allclose``), where ``scale`` is 1, or ``max(1, max |expected|)`` for a tolerance whose absolute
part grows with the values.  The tolerance depends on what is compared, so there are three
:class:`Tolerance` values (fields ``rtol`` then ``atol``):

- :data:`FLOAT32_VS_FLOAT64` (Part A): the student's float32 results against our float64
  reference on the same float32 inputs; float32 rounding grows with the values, hence the scale.
- :data:`FLOAT32_VS_FLOAT32` (the attention hook): the student's float32 training run against the
  same run with our hook, the same computation in the same precision.
- :data:`FLOAT64_VS_FLOAT64` (the fixed encoder layer): the worker runs the student's layer in
  float64, as we run ours, so the tolerance is a hundred times tighter.

Public names: :class:`Tolerance`, the three tolerances, :func:`close`, :func:`all_finite`,
:func:`describe_mismatch`, :func:`tensor_literal`, :func:`format_index`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    atol_grows_with_values: bool = False    # atol times max(1, max |expected|)


FLOAT32_VS_FLOAT64 = Tolerance(rtol=1e-4, atol=1e-5, atol_grows_with_values=True)
FLOAT32_VS_FLOAT32 = Tolerance(rtol=1e-4, atol=1e-5)
FLOAT64_VS_FLOAT64 = Tolerance(rtol=1e-6, atol=1e-7)


def close(got: Any, expected: Any, tolerance: Tolerance) -> bool:
    """Whether ``got`` (None when nothing came back) has ``expected``'s shape and values, within ``tolerance``."""
    if got is None or np.shape(got) != np.shape(expected):
        return False
    atol = tolerance.atol
    if tolerance.atol_grows_with_values:
        atol *= max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    return bool(np.allclose(got, expected, rtol=tolerance.rtol, atol=atol))


def all_finite(*arrays: Any) -> bool:
    """Whether no entry of any of ``arrays`` is NaN or infinite."""
    return all(bool(np.all(np.isfinite(np.asarray(a, dtype=np.float64)))) for a in arrays)


def describe_mismatch(what: str, expected: Any, got: Any, *, where: str = "") -> str:
    """What was expected and what came out, at the worst entry, for numbers students can compare.

    ``what`` is the subject ("the attention weights", "the gradient with respect to Q"); its verb
    agrees with it, so that every caller's sentence reads right.
    """
    expected, got = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    if expected.shape != got.shape:
        return f"{what}{where}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    difference = np.abs(expected - got)
    difference = np.where(np.isnan(difference), math.inf, difference)
    index = np.unravel_index(int(np.argmax(difference)), difference.shape) if difference.size else ()
    return (f"{what}{where} {_differ(what)} from the reference: at index {tuple(int(i) for i in index)} "
            f"expected {expected[index]:.6g}, got {got[index]:.6g} (largest difference {difference[index]:.3g})")


def _differ(subject: str) -> str:
    """'differ' for a plural subject ("the attention weights"), 'differs' for a singular one ("the gradient of x")."""
    head = re.split(r" (?:with respect to|w\.r\.t\.|of|at|for|in) ", subject.strip())[0].split()
    noun = head[-1] if head else ""
    return "differ" if noun.endswith("s") and not noun.endswith(("ss", "'s")) else "differs"


def tensor_literal(array: np.ndarray) -> str:
    """``array`` as the ``torch.tensor(...)`` expression a student can paste into a cell."""
    if array.dtype == bool:
        return f"torch.tensor({array.tolist()})"
    if array.dtype.kind in "iu":
        return f"torch.tensor({array.tolist()}, dtype=torch.{array.dtype.name})"
    values = np.round(array.astype(np.float64), 4).tolist()
    return f"torch.tensor({values})"


def format_index(index: tuple) -> str:
    """An array index as a student writes it: ``[0, 2, 1]``."""
    return "[" + ", ".join(str(int(i)) for i in index) + "]"
