"""Run student code out of the grader's reach: one worker process per part, with limits.

The grader talks to a worker only through :mod:`autograder.protocol`; a worker that hangs,
dies, floods its output or answers nonsense costs the check that was running, never the
grader.  After a lost worker the next call starts a fresh one.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from autograder import protocol

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_PR_SET_CHILD_SUBREAPER = 36


class StudentError(Exception):
    """The student's code raised an exception while a probe ran it."""


class WorkerLost(BaseException):
    """The worker hung, died or broke the protocol; the check in progress cannot go on.

    A BaseException so that hypothesis does not treat it as a falsifying example and
    try to shrink it with a dead worker.
    """


@dataclass(frozen=True)
class Limits:
    """What one worker may use.  Memory is address space, so it includes torch's own."""

    load_seconds: float = 90.0
    call_seconds: float = 30.0
    memory_bytes: int = 6 * 2**30
    file_bytes: int = 64 * 2**20
    cpu_seconds: int = 900
    open_files: int = 512
    processes: int = 256

    def rlimits(self) -> dict[str, int]:
        """RLIMIT_NPROC here is a budget on top of the tasks the uid already runs (see the worker)."""
        return {"RLIMIT_AS": self.memory_bytes, "RLIMIT_FSIZE": self.file_bytes, "RLIMIT_CPU": self.cpu_seconds,
                "RLIMIT_NOFILE": self.open_files, "RLIMIT_CORE": 0, "RLIMIT_NPROC": self.processes}


@dataclass
class Program:
    """The code one worker runs: trusted course code first, then the student's.

    Every name the trusted code defines is bound again after the student's code ran, so a
    student cannot replace our attention, the training loop or a helper a probe relies on.
    """

    trusted: list[tuple[str, str]]
    student: list[tuple[str, str]]


@dataclass
class LoadReport:
    load_errors: list[str] = field(default_factory=list)
    confinement: str = ""


def _readable_roots() -> list[str]:
    """Where a worker may read: the Python installation and system libraries, not the course."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/sys"}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        roots.add(sysconfig.get_paths()[key])
    course = str(PACKAGE_ROOT) + os.sep
    return sorted(root for root in roots if root and not course.startswith(root.rstrip(os.sep) + os.sep))


def become_subreaper() -> None:
    """Orphaned grandchildren of a worker come back to us, so we can find and kill them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


class Worker:
    """One running worker process for one Program."""

    def __init__(self, program: Program, limits: Limits) -> None:
        self.program = program
        self.limits = limits
        self.process: subprocess.Popen | None = None
        self.scratch: str | None = None
        self.started = 0.0

    def start(self) -> LoadReport:
        become_subreaper()
        self.started = time.time() - 1.0
        self.scratch = tempfile.mkdtemp(prefix="autograder-scratch-")
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.scratch, "TMPDIR": self.scratch,
               "PYTHONPATH": str(PACKAGE_ROOT), "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "LANG": "C.UTF-8", "MPLBACKEND": "Agg"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.worker", str(request_read), str(reply_write)],
            pass_fds=(request_read, reply_write), cwd=self.scratch, env=env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(request_read)
        os.close(reply_write)
        self._requests, self._replies = request_write, reply_read
        protocol.send(self._requests, {
            "scratch": self.scratch, "rlimits": self.limits.rlimits(),
            "trusted": self.program.trusted, "student": self.program.student,
            "readable": _readable_roots()})
        reply = self._receive(self.limits.load_seconds, "loading your code")
        return LoadReport(load_errors=list(reply.get("load_errors", [])), confinement=str(reply.get("confinement", "")))

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        if self.process is None:
            raise WorkerLost("the worker is not running")
        try:
            protocol.send(self._requests, {"probe": probe, "kwargs": kwargs})
        except OSError as exc:
            self._lose(f"the process running your code is gone ({exc.strerror})")
        reply = self._receive(timeout or self.limits.call_seconds, f"running {probe}")
        if reply.get("ok") is True:
            result = reply.get("result")
            if not isinstance(result, dict):
                self._lose("the process running your code answered out of protocol")
            return result
        raise StudentError(str(reply.get("error", "unknown error"))[-4000:])

    def _receive(self, timeout: float, doing: str) -> dict[str, Any]:
        try:
            return protocol.receive(self._replies, timeout)
        except protocol.ChannelTimeout:
            self._lose(f"time limit of {timeout:.0f} s exceeded while {doing} (an endless loop, or far too slow)")
        except protocol.ChannelClosed:
            self._lose(f"the process running your code died while {doing} ({self._death_reason()})")
        except protocol.ProtocolError as exc:
            self._lose(f"the process running your code broke the grader's protocol while {doing} ({exc})")
        raise AssertionError("unreachable")

    def _death_reason(self) -> str:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it closed its channel to the grader"
        if code < 0:
            name = signal.Signals(-code).name
            hints = {"SIGKILL": "killed: out of memory or CPU time, or it killed itself",
                     "SIGSEGV": "segmentation fault", "SIGXCPU": "CPU time limit"}
            return f"{name}, {hints.get(name, 'signal')}"
        return f"exit code {code}: os._exit or a fatal error"

    def _lose(self, reason: str) -> None:
        self.close()
        raise WorkerLost(reason)

    def output_tail(self, limit: int = 2000) -> str:
        """The end of what the student's code printed (for diagnostics)."""
        if not self.scratch:
            return ""
        try:
            with open(os.path.join(self.scratch, "output.log"), "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - limit))
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        """Kill the worker and everything it started, then delete its scratch directory."""
        if self.process is not None:
            for fd in (self._requests, self._replies):
                try:
                    os.close(fd)
                except OSError:
                    pass
            _kill_tree(self.process, self.started)
            self.process = None
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def _kill_tree(process: subprocess.Popen, started: float) -> None:
    """Kill the worker, its descendants, and any process it orphaned (they come back to us as subreaper)."""
    for _ in range(3):
        victims: list[psutil.Process] = []
        try:
            victims += psutil.Process(process.pid).children(recursive=True)
        except psutil.Error:
            pass
        for child in psutil.Process().children(recursive=True):
            try:
                if child.pid != process.pid and child.create_time() >= started:
                    victims.append(child)
            except psutil.Error:
                pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            process.kill()
        except OSError:
            pass
        for victim in victims:
            try:
                victim.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(victims, timeout=1)
        if not victims:
            break
    process.wait()
