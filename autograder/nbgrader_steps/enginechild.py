"""The engine's grading of one notebook under ``nbgrader autograde``, in a child process with limits.

Run inside ``nbgrader autograde``, a grading that runs out of memory (a worker's reply that
makes the grader allocate gigabytes) or never ends would take the whole class run with it.
So :class:`~autograder.nbgrader_steps.trustedverdicts.TrustedVerdicts` grades each notebook
with ``grade-all``'s isolation (:func:`autograder.batch.isolate.run_isolated`: a fresh
process, killed with everything it started at its time limit), and the grading process
first limits its own address space (a soft RLIMIT_AS, so the workers it starts may still set
their own limits): its failure is one flagged notebook.

:func:`start` starts ``grade-all``'s server (the libraries, imported once per run), and each
grading process imports the engine and reads the course's code (this module) before the
notebook's kernel starts (:class:`~.starttrustedgrading.StartTrustedGrading` waits for that), so
nothing the kernel changes on disk reaches the code that grades it; nbgrader's own process
imports neither torch nor the engine.
"""
from __future__ import annotations

import os
import resource
from collections.abc import Iterable
from pathlib import Path

from autograder.assignment import course
from autograder.assignment.parts import PARTS
from autograder.batch import isolate
from autograder.grading.report import GradeReport
from autograder.sandbox.limits import Limits

GRADER = f"{__name__}:grade_within_memory"
MEMORY_VARIABLE = "AUTOGRADER_GRADING_MEMORY_BYTES"  # read by the grading process, set before the server starts

for _part in PARTS:
    course.cells(_part.course_cells)


def start(memory_bytes: int) -> None:
    """Start the server the grading processes are forked from, now."""
    os.environ[MEMORY_VARIABLE] = str(memory_bytes)
    isolate.start_forkserver()


def grade_within_memory(path: str | Path, *, limits: Limits | None = None,
                        parts: Iterable[str] | None = None, concurrent: bool | None = None) -> GradeReport:
    """The engine's grade_submission, in a process whose address space is limited first."""
    memory = int(os.environ.get(MEMORY_VARIABLE, "0"))
    if memory > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory if hard == resource.RLIM_INFINITY else min(memory, hard), hard))
    from autograder.grading import engine  # imported by the grading process before it said it was loaded

    return engine.grade_submission(path, limits=limits, parts=parts, concurrent=concurrent)
