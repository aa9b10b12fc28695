"""The grading process of one batch task: grade the submission in its folder, write report.json.

Forked from the server of ``grade-all`` (or of ``nbgrader autograde``), it holds the libraries and
nothing of the grader's, in the workers' environment: so it first forks its workers' zygote from
itself, and only then reads its task, takes back the grader's environment and imports the engine,
and says so (:data:`LOADED_FILE`: nbgrader starts the student's kernel only then).  This module
imports nothing at the top for that reason.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from autograder.grading.report import GradeReport


LOADED_FILE = "loaded"  # written once the engine and the task's grader are imported


def child_main(workdir: str, forked: bool = False) -> None:
    """Grade the one submission in ``workdir`` and write report.json (or error.txt).

    ``forked``: this process was forked from the server that holds only the libraries, in the
    workers' environment (see :func:`autograder.batch.isolate.start_forkserver`).
    """
    work = Path(workdir)
    log = os.open(work / "grader.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    tempfile.tempdir = str(work / "tmp")  # sandbox scratch dirs land here and vanish with the task
    try:
        if forked:
            from autograder.sandbox import zygote

            zygote.start_here()
        spec = json.loads((work / "task.json").read_text())
        if forked:
            os.environ.clear()
            os.environ.update(spec["environment"])
        sys.path[:0] = [entry for entry in spec["sys_path"] if entry not in sys.path]
        import torch
        torch.set_num_threads(1)  # N grading processes share the machine; one thread each, same numbers
        from autograder.grading import engine  # noqa: F401  (every check, before the task's grader says loaded)
        from autograder.sandbox.limits import Limits

        grader = resolve_grader(spec["grader"])
        (work / LOADED_FILE).touch()
        limits = Limits(**spec["limits"]) if spec["limits"] else None
        report = grader(work / "submission" / spec["filename"], limits=limits, parts=spec["parts"],
                        concurrent=spec["concurrent"])
        text = report.to_json()
        (work / "report.json.partial").write_text(text)
        os.replace(work / "report.json.partial", work / "report.json")
    except BaseException as exc:  # the supervisor turns this into the submission's flag
        (work / "error.txt").write_text(f"{type(exc).__name__}: {exc}")
        sys.stdout.flush()
        os._exit(1)


def resolve_grader(spec: str) -> Callable[..., GradeReport]:
    """``"module:function"`` -> the function; the default is the engine's grade_submission."""
    import importlib

    module, _, name = spec.partition(":")
    grader: Any = getattr(importlib.import_module(module), name)
    return grader
