"""The in-kernel front door: what a hidden test cell runs, ``run_hidden_checks("test_sdpa", globals())``.

While nbgrader autogrades (``NBGRADER_EXECUTION=autograde``) the kernel is the student's and
cannot be trusted, so the cell only says that the grade comes from outside and evaluates to
0.0 (nbgrader's partial credit): the trusted preprocessor
(:class:`autograder.nbgrader_steps.TrustedVerdicts`) grades the submitted code in a sandbox and
replaces this cell's outputs; were it left out of the configuration, the cell would score 0
rather than full marks.

Anywhere else (the instructor running the source notebook, ``nbgrader validate``) the same
checks run here, in this process, on the notebook's live objects: the cell prints each check's
result and fails with an AssertionError if any check fails (so ``nbgrader validate`` reports it).
"""
from __future__ import annotations

import os
import tempfile
import traceback
from typing import TYPE_CHECKING, Any

from autograder import ENGINE_VERSION

if TYPE_CHECKING:
    from autograder.grading.report import GradeReport

# Only this module and the package's __init__ are imported under autograde: the student's kernel
# then runs confined (autograder.nbgrader_steps.confinedkernel) and may read nothing else of ours.

AUTOGRADE_NOTICE = "[{cell}] graded by the autograder outside this notebook's kernel; its verdict replaces this output."


class LocalStudent:
    """The Student seam over the kernel's namespace: probes run here, on the notebook's own objects.

    No isolation at all: this is for code the person running the notebook trusts (their own).
    """

    def __init__(self, namespace: dict[str, Any]) -> None:
        from autograder import probes

        probes.load_all()
        self.namespace = namespace

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        from autograder.errors import StudentError
        from autograder.probes import PROBES

        function = PROBES.get(probe)
        if function is None:
            raise LookupError(f"no probe named {probe!r}")
        try:
            return function(self.namespace, **kwargs)
        except Exception as exc:
            raise StudentError(_traceback_tail(exc)) from None


def run_hidden_checks(test_cell: str, namespace: dict[str, Any]) -> float | None:
    """Run the checks of one test cell on the notebook's objects; print them, fail if any fails.

    The cell's value is what nbgrader reads as partial credit: 0.0 under autograde (see the
    module docstring), otherwise nothing, so that a cell whose checks all pass counts as passed.
    """
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        print(AUTOGRADE_NOTICE.format(cell=test_cell))
        return 0.0
    report = check_namespace(test_cell, namespace)
    if not report.results:
        print(f"[{test_cell}] the autograder has no checks for this cell yet")
        return None
    print(report.cell_feedback(test_cell))
    failed = [result.name for result in report.results if not result.passed]
    if failed:
        raise AssertionError(f"{len(failed)} of {len(report.results)} hidden checks failed: {', '.join(failed)}")
    return None


def check_namespace(test_cell: str, namespace: dict[str, Any]) -> GradeReport:
    """The engine's checks of ``test_cell``, run on a live namespace (no worker, no sandbox)."""
    _keep_hypothesis_files_out_of_the_course()
    from autograder.checks import ALL_CHECKS
    from autograder.grading.engine import run_check
    from autograder.grading.report import GradeReport

    checks = [entry for entry in ALL_CHECKS if entry.test_cell == test_cell]
    report = GradeReport(submission="this notebook", digest="", engine_version=ENGINE_VERSION)
    student = LocalStudent(namespace)
    for entry in checks:
        result, flag = run_check(entry, student)
        report.results.append(result)
        if flag:
            report.flags.append(flag)
    return report


def _traceback_tail(exc: BaseException) -> str:
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith(os.path.dirname(__file__))]
    lines = traceback.format_list(frames[-6:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-4000:]


def _keep_hypothesis_files_out_of_the_course() -> None:
    """Hypothesis keeps files in ./.hypothesis; next to the source notebook nbgrader would release them."""
    from hypothesis import configuration

    configuration.set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "autograder-hypothesis"))
