"""What a check is, how one is registered, and the conditions every check runs under.

A check is a small named function with points, run against a student's code.  It talks to that
code only through a :class:`Student` (a worker process in grading, the live kernel in a
notebook's hidden test) and either returns a short note or raises
:class:`~autograder.errors.CheckFailed` with a message the student can act on.

Public names: :func:`check` (the decorator, the only place a check's points are written),
:class:`Check`, :data:`REGISTRY`, :class:`Student`, :func:`for_all` (a property check with
hypothesis, derandomized, failing with the shrunk counterexample) and :func:`isolated_torch`.

Every check runs inside :func:`isolated_torch`, applied by :meth:`Check.run` (so no check
decorates itself): one torch thread, as in a worker (tiny tensors are many times slower with
more on a busy machine), and the grader's random states (Python, numpy, torch CPU) left as they
were before the check.  A check registered ``alongside=True`` draws only from generators of its
own, so the engine may run it in a thread beside the others (:meth:`Check.run` with
``beside_others``): there its restoring of the process's random states would undo the draws of
the check running at the same time, so it restores none.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, FlakyFailure

from autograder.errors import CheckFailed, StudentError

REGISTRY: list[Check] = []


class Student(Protocol):
    """The student's code for one part, reachable only through named probes."""

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]: ...


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """One torch thread, as in a worker, and the number before it restored."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextmanager
def isolated_torch() -> Iterator[None]:
    """One torch thread (as in a worker) and the grader's random states left as they were."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        with one_torch_thread(), torch.random.fork_rng(devices=[]):
            yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@dataclass(frozen=True)
class Check:
    name: str
    part: str
    test_cell: str
    points: float
    function: Callable[[Student], str | None]
    alongside: bool = False  # draws from no global random state: may run beside other checks

    @property
    def description(self) -> str:
        return (self.function.__doc__ or self.name).strip().splitlines()[0]

    def run(self, student: Student, *, beside_others: bool = False) -> str | None:
        """The check's note on ``student`` (or :class:`CheckFailed`), run inside :func:`isolated_torch`,
        or with one torch thread only when it runs ``beside_others`` (only an ``alongside`` check may)."""
        if not beside_others:
            with isolated_torch():
                return self.function(student)
        if not self.alongside:
            raise ValueError(f"check {self.name} uses the process's random states: it cannot run beside others")
        with one_torch_thread():
            return self.function(student)


def check(name: str, *, part: str, test_cell: str, points: float,
          alongside: bool = False) -> Callable[[Callable[[Student], str | None]], Check]:
    """Register a check function under a name, worth ``points``, shown in notebook cell ``test_cell``;
    ``alongside``: it draws from no global random state (see the module's docstring)."""
    def register(function: Callable[[Student], str | None]) -> Check:
        if any(existing.name == name for existing in REGISTRY):
            raise ValueError(f"two checks are named {name!r}")
        entry = Check(name=name, part=part, test_cell=test_cell, points=points, function=function, alongside=alongside)
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
