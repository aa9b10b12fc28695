"""How much a failed check tells the student: the course's feedback setting.

``full`` (the default) gives the whole diagnosis; ``brief`` gives what failed and where to look,
for checks whose diagnosis would give a hand-graded answer away (the fixed layer's wiring, why the
classifier does not learn).  One environment variable, so that every front door and every process
a grading starts (grade-all's, nbgrader's engine child, Dask workers) reads the same setting.
"""
from __future__ import annotations

import os

FEEDBACK_ENV = "AUTOGRADER_FEEDBACK"
LEVELS = ("full", "brief")


def level() -> str:
    """The course's feedback level; anything but ``brief`` is ``full``."""
    return "brief" if os.environ.get(FEEDBACK_ENV, "").strip().lower() == "brief" else "full"


def shown(exc: BaseException) -> str:
    """What the student reads of a failed check."""
    brief = getattr(exc, "brief", None)
    return brief if brief and level() == "brief" else str(exc)
