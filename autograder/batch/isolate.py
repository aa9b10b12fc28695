"""One submission graded in a fresh process, killed with everything it started at its time limit.

Locally the grading processes are forked from a forkserver that has already imported the
engine and the libraries of the parts' reference code (:func:`start_forkserver`: torch,
transformers and nltk once per class, not per submission); on a Dask cluster, whose workers are
daemonic processes, each task starts a fresh interpreter instead.  Both run the same task and
give the same ``results.json``.
"""
from __future__ import annotations

import importlib
import json
import multiprocessing
import multiprocessing.forkserver
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.grading.report import GradeReport
from autograder.sandbox.limits import Limits
from autograder.sandbox.proctree import kill_tree
from autograder.sandbox.shared import signal_name

DEFAULT_GRADER = "autograder.grading.engine:grade_submission"
DEFAULT_TIMEOUT = 1800.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Task:
    """Everything a grading process needs, as plain data (it travels to Dask workers by value)."""

    student: str
    filename: str
    content: bytes
    parts: tuple[str, ...] | None = None
    grader: str = DEFAULT_GRADER
    limits: dict[str, Any] | None = None
    sys_path: tuple[str, ...] = ()
    concurrent: bool | None = None  # the learning run beside the rest? None: if the process has 2 cores or more


@dataclass(frozen=True)
class Outcome:
    """What came back from one grading process: its report's JSON, or why there is none."""

    student: str
    report_json: str | None = None
    failure: str | None = None


def run_isolated(task: Task, timeout: float = DEFAULT_TIMEOUT, how: str = "auto",
                 cancel: threading.Event | None = None) -> Outcome:
    """Grade ``task`` in a fresh process and return its report; never raises for the submission's sake.

    ``how`` is "fork" (from the preloaded forkserver), "exec" (a new interpreter) or "auto"
    (fork unless this process may not have children, as in a daemonic Dask worker).  The
    process, and everything it started, is killed after ``timeout`` seconds or on ``cancel``.
    """
    if how == "auto":
        how = "exec" if multiprocessing.current_process().daemon else "fork"
    with tempfile.TemporaryDirectory(prefix="autograder-batch-", ignore_cleanup_errors=True) as workdir:
        work = Path(workdir)
        (work / "submission").mkdir()
        (work / "tmp").mkdir()
        (work / "submission" / task.filename).write_bytes(task.content)
        spec = {"student": task.student, "filename": task.filename, "parts": list(task.parts) if task.parts else None,
                "grader": task.grader, "limits": task.limits, "sys_path": list(task.sys_path),
                "concurrent": task.concurrent}
        (work / "task.json").write_text(json.dumps(spec))
        code, stopped = _run_child(workdir, timeout, how, cancel)
        report_file, error_file = work / "report.json", work / "error.txt"
        if code == 0 and report_file.exists():
            return Outcome(task.student, report_json=report_file.read_text())
        if stopped:
            return Outcome(task.student, failure=stopped)
        if error_file.exists():
            return Outcome(task.student, failure=f"the grader raised {error_file.read_text().strip()[:1000]}")
        if code is not None and code < 0:
            return Outcome(task.student, failure=f"the grading process was killed by {signal_name(-code)}")
        return Outcome(task.student, failure=f"the grading process exited with code {code} without a result")


CHILD_COMMAND = "import sys; from autograder.batch.isolate import child_main; child_main(sys.argv[1])"
# The forkserver's own environment: a grading process forked from it must not start thread pools
# (N of them share the machine) nor a jemalloc background thread in what the preload imports.
FORKSERVER_ENVIRONMENT = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                          "TOKENIZERS_PARALLELISM": "false", "JE_ARROW_MALLOC_CONF": "background_thread:false"}
_forkserver_lock = threading.Lock()
_forkserver_context: Any = None


def start_forkserver(preload: list[str] | None = None) -> Any:
    """Start, once per process, the forkserver every grading process is forked from; return its context.

    It imports ``preload`` (by default the engine) and the libraries the parts' reference code
    imports (:attr:`~autograder.assignment.parts.Part.grader_imports`), so that no grading
    process imports torch, nltk or transformers again.  A later call returns the running one.
    """
    global _forkserver_context
    with _forkserver_lock:
        if _forkserver_context is None:
            from autograder.assignment.parts import PARTS

            libraries = [name for part in PARTS for name in part.grader_imports]
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(dict.fromkeys([*(preload or [DEFAULT_GRADER.partition(":")[0]]),
                                                               *libraries])))
            saved = dict(os.environ)
            os.environ.update({key: value for key, value in FORKSERVER_ENVIRONMENT.items() if key not in saved})
            try:
                multiprocessing.forkserver.ensure_running()
            finally:
                os.environ.clear()
                os.environ.update(saved)
            _forkserver_context = context
        return _forkserver_context


def _run_child(workdir: str, timeout: float, how: str, cancel: threading.Event | None) -> tuple[int | None, str | None]:
    """Run child_main(workdir) in a new process; (exit code, reason it was stopped or None)."""
    started = time.time() - 1.0  # as the worker handles do: what was started after this may be killed with it
    if how == "fork":
        process = start_forkserver().Process(target=child_main, args=(workdir,), name="autograder-grading")
        process.start()
        pid, poll = process.pid, (lambda: process.exitcode)
        wait_step = process.join
    elif how == "exec":
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PROJECT_ROOT)] +
                                                           [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        popen = subprocess.Popen([sys.executable, "-c", CHILD_COMMAND, workdir], env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pid, poll = popen.pid, popen.poll

        def wait_step(seconds: float) -> None:
            try:
                popen.wait(seconds)
            except subprocess.TimeoutExpired:
                pass
    else:
        raise ValueError(f"unknown way to start a grading process: {how!r}")
    deadline = time.monotonic() + timeout
    stopped = None
    while poll() is None:
        if cancel is not None and cancel.is_set():
            stopped = "grading was interrupted"
        elif time.monotonic() >= deadline:
            stopped = f"grading took longer than {timeout:g} s and was stopped"
        if stopped:
            kill_tree(pid, started)
            wait_step(10)
            break
        wait_step(min(0.5, max(0.0, deadline - time.monotonic())))
    return poll(), stopped


def child_main(workdir: str) -> None:
    """The grading process: grade the one submission in ``workdir`` and write report.json (or error.txt)."""
    work = Path(workdir)
    log = os.open(work / "grader.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    spec = json.loads((work / "task.json").read_text())
    sys.path[:0] = [entry for entry in spec["sys_path"] if entry not in sys.path]
    tempfile.tempdir = str(work / "tmp")  # sandbox scratch dirs land here and vanish with the task
    try:
        import torch
        torch.set_num_threads(1)  # N grading processes share the machine; one thread each, same numbers
        grader = resolve_grader(spec["grader"])
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
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)
