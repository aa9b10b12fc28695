"""The in-kernel front door: what a hidden test cell runs.

While nbgrader autogrades (``NBGRADER_EXECUTION=autograde``) the kernel is the student's and
cannot be trusted, so the cell only says that the grade comes from outside; the trusted
preprocessor (:mod:`autograder.nbgrader_hooks`) judges the submitted code in a sandbox.
Anywhere else (the instructor's source notebook, ``nbgrader validate``) the same checks run here,
on the live objects, and a failing check fails the cell.
"""
from __future__ import annotations

import os
from typing import Any

from autograder import probes
from autograder.checks import ALL_CHECKS
from autograder.engine import run_check
from autograder.sandbox import StudentError


class LocalStudent:
    """The student's code as live objects in this process (no isolation: for the kernel only)."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        probes.load_all()
        self.namespace = namespace

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        try:
            return probes.PROBES[probe](self.namespace, **kwargs)
        except Exception as exc:
            raise StudentError(f"{type(exc).__name__}: {exc}") from exc


def run_hidden_checks(test_cell: str, namespace: dict[str, Any]) -> float:
    """Run the checks of one test cell on the kernel's objects; returns the points earned."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print(f"[{test_cell}] graded by the autograder outside this notebook's kernel.")
        return 0.0
    student = LocalStudent(namespace)
    results = [run_check(entry, student)[0] for entry in ALL_CHECKS if entry.test_cell == test_cell]
    for result in results:
        print(f"[{'PASS' if result.passed else 'FAIL'}] {result.name} ({result.score:g}/{result.max_score:g})")
        if result.output:
            print("    " + result.output.replace("\n", "\n    "))
    failed = [result.name for result in results if not result.passed]
    assert not failed, f"hidden checks failed: {', '.join(failed)}"
    return sum(result.score for result in results)
