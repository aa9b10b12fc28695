"""What a check is: a small named function with points, run against a student's code.

A check talks to the student's code only through a :class:`Student` (a worker process in
grading, the live kernel in a notebook's hidden test) and either returns a short note or
raises :class:`CheckFailed` with a message the student can act on.  Property checks use
hypothesis, derandomized, and report its shrunk counterexample.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, FlakyFailure

from autograder.errors import CheckFailed, StudentError

REGISTRY: list["Check"] = []


class Student(Protocol):
    """The student's code for one part, reachable only through named probes."""

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Check:
    name: str
    part: str
    test_cell: str
    points: float
    run: Callable[[Student], str | None]

    @property
    def description(self) -> str:
        return (self.run.__doc__ or self.name).strip().splitlines()[0]


def check(name: str, *, part: str, test_cell: str, points: float) -> Callable[[Callable[[Student], str | None]], Check]:
    """Register a check function under a name, worth ``points``, shown in notebook cell ``test_cell``."""
    def register(function: Callable[[Student], str | None]) -> Check:
        if any(existing.name == name for existing in REGISTRY):
            raise ValueError(f"two checks are named {name!r}")
        entry = Check(name=name, part=part, test_cell=test_cell, points=points, run=function)
        REGISTRY.append(entry)
        return entry
    return register


def for_all(strategy: st.SearchStrategy, test: Callable[[Any], None], *, examples: int) -> None:
    """Run ``test`` on ``examples`` cases drawn from ``strategy``; fail with the smallest failing case.

    Derandomized and without an example database, so the same code always meets the
    same cases and gets the same verdict.
    """
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=False,
              phases=(Phase.explicit, Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False)
    @given(strategy)
    def property_test(case: Any) -> None:
        try:
            test(case)
        except StudentError as exc:
            raise CheckFailed(f"{case}\nyour code raised:\n{exc}") from None

    try:
        property_test()
    except (Flaky, FlakyFailure) as exc:
        first = _first_failure(exc)
        raise CheckFailed(f"{first}\n(your code gave different answers for the same input; "
                          "does it use randomness or state kept between calls?)") from None


def _first_failure(exc: BaseException) -> str:
    for inner in getattr(exc, "exceptions", ()) or ():
        if isinstance(inner, CheckFailed):
            return str(inner)
        found = _first_failure(inner)
        if found:
            return found
    return str(exc) if isinstance(exc, CheckFailed) else ""


def describe_mismatch(what: str, expected: Any, got: Any, *, where: str = "") -> str:
    """A short 'expected vs got' text with the worst entry, for numbers students can compare."""
    import numpy as np

    expected, got = np.asarray(expected, dtype=np.float64), np.asarray(got, dtype=np.float64)
    if expected.shape != got.shape:
        return f"{what}{where}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    difference = np.abs(expected - got)
    difference = np.where(np.isnan(difference), math.inf, difference)
    index = np.unravel_index(int(np.argmax(difference)), difference.shape) if difference.size else ()
    return (f"{what}{where} differs from the reference: at index {tuple(int(i) for i in index)} "
            f"expected {expected[index]:.6g}, got {got[index]:.6g} (largest difference {difference[index]:.3g})")
