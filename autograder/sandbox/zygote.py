"""Starting workers: forked from one pre-imported zygote process per grading process.

The zygote (:mod:`autograder.sandbox.child.zygote`) is a fresh interpreter with the workers'
environment that imported torch, numpy, transformers and nltk once; each worker is a fork of it that
then starts as a fresh worker would (see there).  This saves every worker its own torch import
(about 2 s of CPU each, five workers per submission).  It is started once per grading process, by
the first worker, and again if it is gone.  A grading process forked from the batch server (``grade-all``, nbgrader),
which holds those libraries and nothing of the grader's, forks its zygote from itself first
(:func:`start_here`), which saves it that interpreter's 4-5 s of imports.

The worker is this process's child (the zygote forks twice and this process is a subreaper), so
:class:`ForkedWorker` waits for it and reads how it ended as ``subprocess.Popen`` did.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import NoReturn

from autograder.errors import SandboxError, WorkerLost
from autograder.sandbox.proctree import become_subreaper
from autograder.sandbox.shared import PROJECT_ROOT

MAX_REPLY = 4096
START_SECONDS = 300.0  # importing torch and transformers on a loaded machine


def worker_environment(home: str) -> dict[str, str]:
    """A worker's whole environment: no variable of the grader's but PATH, and one thread for every library."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
            "PYTHONPATH": PROJECT_ROOT, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
            "JE_ARROW_MALLOC_CONF": "background_thread:false",  # no thread outside the lockdown
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "LANG": "C.UTF-8", "MPLBACKEND": "Agg"}


class ForkedWorker:
    """The worker process as ``subprocess.Popen`` shows one: pid, poll(), wait()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: it is gone, how is unknown
                self.returncode = 1
                return self.returncode
            if done == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0.0)
            time.sleep(0.005)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)


class Zygote:
    """The grader's end of one zygote process."""

    def __init__(self, here: bool = False) -> None:
        """A fresh interpreter, or with ``here`` a fork of this process (see :func:`start_here`)."""
        self.home = tempfile.mkdtemp(prefix="autograder-zygote-")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = ours
        self.process: subprocess.Popen | ForkedWorker
        if here:
            pid = os.fork()
            if pid == 0:
                _serve_here(theirs.fileno(), self.home)
            self.process = ForkedWorker(pid)
        else:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "autograder.sandbox.child.zygote", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), cwd=self.home, env=worker_environment(self.home), start_new_session=True,
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        theirs.close()
        self.ready = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        hello = self._receive(START_SECONDS, "starting")
        if not hello.get("ready"):
            raise SandboxError(f"the worker zygote could not start single-threaded ({hello})")
        self.ready = True

    def fork(self, cwd: str, fds: tuple[int, int, int]) -> ForkedWorker:
        self.wait_ready()
        request = json.dumps({"cwd": cwd, "env": worker_environment(cwd)}).encode()
        socket.send_fds(self.control, [request], list(fds))
        reply = self._receive(START_SECONDS, "forking a worker")
        if "pid" not in reply:
            raise SandboxError(f"the worker zygote could not start a worker: {reply.get('error', reply)}")
        return ForkedWorker(int(reply["pid"]))

    def _receive(self, timeout: float, doing: str) -> dict:
        self.control.settimeout(timeout)
        try:
            data = self.control.recv(MAX_REPLY)
        except TimeoutError:
            raise WorkerLost(f"the worker zygote took longer than {timeout:g} s {doing}") from None
        if not data:
            raise ConnectionError("the worker zygote is gone")
        return json.loads(data)

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        self.control.close()  # the zygote leaves when its end reads end-of-file
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)


def _serve_here(control_fd: int, home: str) -> NoReturn:
    """In the fork: become the zygote as the fresh interpreter would start (own session, the workers'
    environment and home, no descriptor but the socket), then serve; never return into the caller."""
    try:
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.dup2(control_fd, 3)
        os.closerange(4, os.sysconf("SC_OPEN_MAX"))
        os.chdir(home)
        os.environ.clear()
        os.environ.update(worker_environment(home))
        tempfile.tempdir = None
        from autograder.sandbox.child import zygote as server

        server.main(3)
    finally:
        os._exit(1)


_lock = threading.Lock()
_zygote: Zygote | None = None
_owner = 0  # the pid that started it: a forked grading process starts its own


def _current() -> Zygote:
    global _zygote, _owner
    if _zygote is None or _owner != os.getpid() or not _zygote.alive():
        _discard()
        become_subreaper()  # the workers it forks are orphaned to us
        _zygote, _owner = Zygote(), os.getpid()
    return _zygote


def start_here() -> None:
    """Fork this process's zygote from this process itself, now.

    Only for a process that holds the libraries and nothing a worker could borrow (no probe, no
    reference, no course code), started in the workers' environment: the zygote inherits its memory
    and shows its starting environment in ``/proc/self/environ``.
    """
    global _zygote, _owner
    with _lock:
        _discard()
        become_subreaper()
        _zygote, _owner = Zygote(here=True), os.getpid()


def start_early() -> None:
    """Start this process's zygote now, without waiting for it: its imports overlap the caller's."""
    with _lock:
        _current()


def fork_worker(cwd: str, fds: tuple[int, int, int]) -> ForkedWorker:
    """A new worker process, forked from the zygote, with ``fds`` at WORKER_FDS and ``cwd`` as its home."""
    with _lock:
        try:
            return _current().fork(cwd, fds)
        except (ConnectionError, BrokenPipeError):  # the zygote died: once more, with a new one
            _discard()
            return _current().fork(cwd, fds)
        except WorkerLost:
            _discard()
            raise


def _discard() -> None:
    global _zygote
    if _zygote is not None and _owner == os.getpid():
        _zygote.close()
    _zygote = None


atexit.register(_discard)
