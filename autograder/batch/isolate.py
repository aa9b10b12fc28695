"""One submission graded in a fresh process, killed with everything it started at its time limit.

Locally the grading processes are forked from a forkserver that has already imported the
libraries the parts' reference code and the workers use (:func:`start_forkserver`: torch,
transformers and nltk once per class, not per submission; ``grade-all`` and ``nbgrader autograde``
alike); on a Dask cluster, whose workers are
daemonic processes, each task starts a fresh interpreter instead.  Both run the same task
(:mod:`autograder.batch.child`) and give the same ``results.json``.
"""
from __future__ import annotations

import atexit
import json
import multiprocessing
import multiprocessing.forkserver
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.batch.child import LOADED_FILE, child_main
from autograder.sandbox.proctree import kill_tree
from autograder.sandbox.shared import signal_name
from autograder.sandbox.zygote import worker_environment

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
                 cancel: threading.Event | None = None, loaded: threading.Event | None = None) -> Outcome:
    """Grade ``task`` in a fresh process and return its report; never raises for the submission's sake.

    ``how`` is "fork" (from the preloaded forkserver), "exec" (a new interpreter) or "auto"
    (fork unless this process may not have children, as in a daemonic Dask worker).  The
    process, and everything it started, is killed after ``timeout`` seconds or on ``cancel``.
    ``loaded`` is set once the process has imported the engine and its grader (the code that grades is
    then fixed, whatever changes on disk) or has ended.
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
                "concurrent": task.concurrent, "environment": dict(os.environ)}
        (work / "task.json").write_text(json.dumps(spec))
        try:
            code, stopped = _run_child(workdir, timeout, how, cancel, loaded)
        finally:
            if loaded is not None:
                loaded.set()
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


CHILD_COMMAND = "import sys; from autograder.batch.child import child_main; child_main(sys.argv[1])"
_forkserver_lock = threading.Lock()
_forkserver: Any = None


def start_forkserver() -> Any:
    """Start, once per process, the forkserver every grading process is forked from; return its context.

    It imports the libraries the parts' reference code imports
    (:attr:`~autograder.assignment.parts.Part.grader_imports`), so that no grading process imports
    torch, nltk or transformers again, and nothing else (the worker zygote and the grading process's
    entry), in the workers' environment: each grading process first forks its workers' zygote from
    itself (:func:`autograder.sandbox.zygote.start_here`), then takes back the grader's environment and
    imports the engine.  A later call returns the running one.
    """
    global _forkserver
    with _forkserver_lock:
        if _forkserver is None:
            from autograder.assignment.parts import PARTS

            prepare_course_data()
            home = tempfile.mkdtemp(prefix="autograder-forkserver-")
            atexit.register(shutil.rmtree, home, True)
            libraries = [name for part in PARTS for name in part.grader_imports]
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(list(dict.fromkeys(["autograder.batch.child", "autograder.sandbox.child.zygote",
                                                               *libraries])))
            saved = dict(os.environ)
            os.environ.clear()
            os.environ.update(worker_environment(home))
            try:
                multiprocessing.forkserver.ensure_running()
            finally:
                os.environ.clear()
                os.environ.update(saved)
            _forkserver = context
        return _forkserver


def prepare_course_data() -> None:
    """Make (or find on disk) what the grader builds from the course's data, here in the grader's
    environment: the server, started in the workers' environment, imports nltk without its data path."""
    from autograder.assignment.course_data import review_tensors

    review_tensors()


def _run_child(workdir: str, timeout: float, how: str, cancel: threading.Event | None,
               loaded: threading.Event | None) -> tuple[int | None, str | None]:
    """Run child_main(workdir) in a new process; (exit code, reason it was stopped or None)."""
    started = time.time() - 1.0  # as the worker handles do: what was started after this may be killed with it
    if how == "fork":
        process = start_forkserver().Process(target=child_main, args=(workdir, True), name="autograder-grading")
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
    loaded_file = Path(workdir) / LOADED_FILE
    while poll() is None:
        if loaded is not None and not loaded.is_set() and loaded_file.exists():
            loaded.set()
        if cancel is not None and cancel.is_set():
            stopped = "grading was interrupted"
        elif time.monotonic() >= deadline:
            stopped = f"grading took longer than {timeout:g} s and was stopped"
        if stopped:
            kill_tree(pid, started)
            wait_step(10)
            break
        step = 0.5 if loaded is None or loaded.is_set() else 0.02
        wait_step(min(step, max(0.0, deadline - time.monotonic())))
    return poll(), stopped
