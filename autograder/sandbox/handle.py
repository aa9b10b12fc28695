"""Run student code out of the grader's reach: one worker process per part, with limits.

The grader talks to a worker only through :mod:`autograder.sandbox.protocol`; a worker that hangs,
dies, floods its output or answers nonsense costs the check that was running, never the
grader.  After a lost worker the next call starts a fresh one.

What the worker does to itself (limits, Landlock, seccomp) is in :mod:`autograder.sandbox.child`.
What the grader does from outside, here:

- every wait has a deadline (loading, each call, and sending a request);
- a watchdog thread polls the worker's process tree and its scratch directory and stops it
  when it uses more memory than allowed across all its processes, more tasks, more disk or
  more files (RLIMIT_AS is per process; RLIMIT_NPROC does not hold root; nothing limits
  the number of files);
- the worker and everything it started are killed when it is closed: stopped first, so that
  nothing can fork while the tree is walked, then killed.  Orphans (a double-forked
  ``setsid`` daemon) come back to the worker, which is a subreaper, or else to the grading
  process, which is one too; they are recognised by their seccomp filter, which the student's
  code cannot remove;
- what the worker's monitor saw becomes the worker's ``incidents``: it writes them into a pipe whose
  read end only the grader holds, and the grader checks from outside, in ``/proc/<pid>/fd``, that
  the worker's end is still that pipe (closing or replacing it is itself an incident).

SECURITY.md at the repository root says which attacks this stops and which it only detects.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from typing import Any

from autograder.errors import SandboxError, StudentError, WorkerLost
from autograder.sandbox import protocol
from autograder.sandbox.limits import Limits
from autograder.sandbox.proctree import become_subreaper, descendants, kill_tree, reap, register_worker, unregister_worker
from autograder.sandbox.program import LoadReport, Program
from autograder.sandbox.readable import guarded_prefixes, worker_readable_roots
from autograder.sandbox.shared import MAX_INCIDENTS, PROGRESS_FILE, WORKER_FDS, signal_name
from autograder.sandbox.usage import disk_usage, format_size, memory, threads
from autograder.sandbox.zygote import ForkedWorker, fork_worker

LOADING = "loading your code"
WATCH_INTERVAL = 0.1
DISK_EVERY = 5  # polls between two looks at the scratch directory


class WorkerHandle:
    """The grader's side of one running worker process for one Program."""

    def __init__(self, program: Program, limits: Limits, skip: frozenset[str] = frozenset()) -> None:
        self.program = program
        self.limits = limits
        self.skip = skip
        self.loading: str | None = None  # the student's statement the worker was running when it was lost loading
        self.process: ForkedWorker | None = None
        self.scratch: str | None = None
        self.started = 0.0
        self.incidents: list[str] = []
        self._pid = 0
        self._incidents_read = -1
        self._incidents_fd = -1   # the number of the pipe's write end in the worker
        self._incidents_link = ""
        self._incidents_buffer = b""
        self._channel_broken = False
        self._reply_fd = -1
        self._inspectable = False  # whether this machine lets the grader read the worker's /proc/<pid>/fd
        self._stop_reason: str | None = None
        self._stopping = threading.Event()
        self._kill_lock = threading.Lock()
        self._watchdog: threading.Thread | None = None

    def start(self) -> LoadReport:
        become_subreaper()
        self.started = time.time() - 1.0
        self.scratch = tempfile.mkdtemp(prefix="autograder-scratch-")
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        self._incidents_read, incidents_write = os.pipe()
        os.set_blocking(self._incidents_read, False)
        _, self._reply_fd, self._incidents_fd = WORKER_FDS  # their numbers in the worker
        self._incidents_link = f"pipe:[{os.fstat(incidents_write).st_ino}]"
        try:
            self.process = fork_worker(self.scratch, (request_read, reply_write, incidents_write))
        except BaseException:
            for fd in (request_write, reply_read, self._incidents_read):
                os.close(fd)
            self._incidents_read = -1
            self.close()
            raise
        finally:
            for fd in (request_read, reply_write, incidents_write):
                os.close(fd)
        self._inspectable = self._fd_link(self.process.pid, self._incidents_fd) == self._incidents_link
        self._pid = self.process.pid
        self._requests, self._replies = request_write, reply_read
        os.set_blocking(self._requests, False)
        register_worker(self._pid)
        self._watchdog = threading.Thread(target=self._watch, name=f"autograder-watchdog-{self._pid}", daemon=True)
        self._watchdog.start()
        self._send({"scratch": self.scratch, "rlimits": self.limits.rlimits(),
                    "options": {"output_bytes": self.limits.output_bytes, "spawn": self.limits.spawn,
                                "statement_seconds": self.limits.statement_seconds,
                                "load_seconds": self.limits.load_seconds},
                    "trusted": self.program.trusted, "student": self.program.student, "skip": sorted(self.skip),
                    "test_cells": list(self.program.test_cells), "incidents_fd": self._incidents_fd,
                    "readable": worker_readable_roots(), "guarded": guarded_prefixes(self.scratch)},
                   self.limits.load_seconds, LOADING)
        reply = self._receive(self.limits.load_seconds, LOADING)
        if "fatal" in reply:
            self.close()
            raise SandboxError(f"the sandbox could not be set up: {str(reply['fatal'])[:500]}")
        self._collect_incidents()
        return LoadReport(load_errors=[str(e) for e in reply.get("load_errors", [])][:50],
                          confinement=str(reply.get("confinement", "")), incidents=list(self.incidents))

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        if self.process is None:
            raise WorkerLost("the worker is not running")
        timeout = timeout or self.limits.call_seconds
        self._send({"probe": probe, "kwargs": kwargs}, timeout, f"running {probe}")
        reply = self._receive(timeout, f"running {probe}")
        self._collect_incidents()
        if reply.get("ok") is True:
            result = reply.get("result")
            if not isinstance(result, dict):
                self._lose("the process running your code answered out of protocol")
            return result
        raise StudentError(str(reply.get("error", "unknown error"))[-4000:])

    def _send(self, message: dict[str, Any], timeout: float, doing: str) -> None:
        try:
            protocol.send(self._requests, message, timeout=timeout)
        except protocol.ChannelTimeout:
            self._lose(f"time limit of {timeout:g} s exceeded while {doing} (the process running your code "
                       "stopped reading the grader's requests)", doing)
        except OSError as exc:
            self._lose(f"the process running your code is gone ({exc.strerror})", doing)

    def _receive(self, timeout: float, doing: str) -> dict[str, Any]:
        try:
            return protocol.receive(self._replies, timeout)
        except protocol.ChannelTimeout:
            self._lose(f"time limit of {timeout:g} s exceeded while {doing} (an endless loop, or far too slow)", doing)
        except protocol.ChannelClosed:
            self._lose(f"the process running your code died while {doing} ({self._death_reason()})", doing)
        except protocol.ProtocolError as exc:
            self._lose(f"the process running your code broke the grader's protocol while {doing} ({exc})", doing)
        raise AssertionError("unreachable")

    def _death_reason(self) -> str:
        assert self.process is not None
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it closed its channel to the grader"
        if code < 0:
            name = signal_name(-code)
            hints = {"SIGKILL": "killed: out of CPU time, or it killed itself or its process group",
                     "SIGSEGV": "segmentation fault", "SIGXCPU": "CPU time limit", "SIGBUS": "bus error",
                     "SIGABRT": "aborted"}
            return f"{name}, {hints.get(name, 'signal')}"
        return f"exit code {code}: os._exit or a fatal error"

    def _lose(self, reason: str, doing: str | None = None) -> None:
        if doing == LOADING:
            self.loading = self._statement_running()
        if self._stop_reason:  # the watchdog stopped it: that is the reason, whatever the channel saw
            reason = f"{self._stop_reason} while {doing}" if doing else self._stop_reason
        self.close()
        raise WorkerLost(reason)

    def _collect_incidents(self) -> None:
        """New lines from the monitor's pipe, and whether the worker's end of it is still that pipe."""
        if self._incidents_read < 0:
            return
        self._check_channel()
        while True:
            try:
                data = os.read(self._incidents_read, 64 * 1024)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return
            if not data:
                break
            if len(self.incidents) < MAX_INCIDENTS:
                self._incidents_buffer += data
        complete, _, self._incidents_buffer = self._incidents_buffer.rpartition(b"\n")
        for line in complete.decode("utf-8", errors="replace").splitlines():
            line = " ".join(line.split())[:500]
            if line and line not in self.incidents and len(self.incidents) < MAX_INCIDENTS:
                self.incidents.append(line)

    @staticmethod
    def _fd_link(pid: int, fd: int) -> str:
        try:
            return os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            return "closed"
        except PermissionError:
            return "hidden from the grader"
        except OSError:
            return ""

    def _check_channel(self) -> None:
        """From outside the student's process: is the worker's incident descriptor still our pipe?"""
        if self._channel_broken or not self._inspectable or self.process is None or self.process.poll() is not None:
            return
        link = self._fd_link(self._pid, self._incidents_fd)
        exiting = link == "closed" and self._fd_link(self._pid, self._reply_fd) == "closed"
        if link in ("", self._incidents_link) or exiting or self.process.poll() is not None:
            return  # ours, or the process is going away (its descriptors go with it)
        self._channel_broken = True
        self.incidents.insert(0, "tampering: your code closed or replaced the grader's incident channel "
                                 f"(descriptor {self._incidents_fd} is now {link})")

    def _statement_running(self) -> str | None:
        """Which of the student's statements the worker was running (its own word: it only decides what to skip)."""
        if not self.scratch:
            return None
        try:
            with open(os.path.join(self.scratch, PROGRESS_FILE), "rb") as handle:
                text = handle.read(2000).decode("utf-8", errors="replace")
        except OSError:
            return None
        return text if text.count("\t") == 1 and text.split("\t")[0].replace(":", "").isdigit() else None

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
        self._stopping.set()
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join(timeout=10)
        if self.process is not None:
            self._collect_incidents()
            for fd in (self._requests, self._replies, self._incidents_read):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._incidents_read = -1
            with self._kill_lock:
                victims = kill_tree(self._pid, self.started)
            self.process.wait()
            reap(victims)
            self.process = None
            unregister_worker(self._pid)
        if self.scratch:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    # ---- the watchdog

    def _watch(self) -> None:
        polls = 0
        while not self._stopping.wait(WATCH_INTERVAL):
            polls += 1
            try:
                reason = self._over_limit(disk=polls % DISK_EVERY == 0)
            except Exception:  # a process vanishing under our feet; look again next time
                reason = None
            if reason:
                self._stop_reason = reason
                with self._kill_lock:
                    if not self._stopping.is_set():
                        kill_tree(self._pid, self.started)
                return

    def _over_limit(self, disk: bool) -> str | None:
        limits = self.limits
        tree = descendants(self._pid)
        if not tree:
            return None
        if sum(threads(pid) for pid in tree) > limits.processes:
            return f"your code started more than {limits.processes} processes or threads"
        if len(tree) > 1 and sum(memory(pid) for pid in tree) > limits.memory_bytes:
            return f"your code used more than {format_size(limits.memory_bytes)} of memory (all its processes together)"
        if disk and self.scratch:
            files, size = disk_usage(self.scratch, tree, limits.disk_files)
            if files > limits.disk_files:
                return f"your code created more than {limits.disk_files} files"
            if size > limits.disk_bytes:
                return f"your code wrote more than {format_size(limits.disk_bytes)} to disk"
        return None
