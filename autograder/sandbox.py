"""Run student code out of the grader's reach: one worker process per part, with limits.

The grader talks to a worker only through :mod:`autograder.protocol`; a worker that hangs,
dies, floods its output or answers nonsense costs the check that was running, never the
grader.  After a lost worker the next call starts a fresh one.

What the worker does to itself (limits, Landlock, seccomp) is in :mod:`autograder.worker`.
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
- what the worker's monitor saw (its incidents file) becomes the worker's ``incidents``.

SECURITY.md at the repository root says which attacks this stops and which it only detects.
"""
from __future__ import annotations

import ctypes
import functools
import os
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from autograder import protocol
from autograder.errors import SandboxError, StudentError, WorkerLost

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent
_PR_SET_CHILD_SUBREAPER = 36
WATCH_INTERVAL = 0.1
DISK_EVERY = 5  # polls between two looks at the scratch directory
INCIDENTS_FILE = ".incidents"
MAX_INCIDENTS = 20
# What of /etc a Python program may need; not the rest (/etc/shadow is readable by a root worker's uid).
ETC_READABLE = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "zoneinfo", "passwd", "group",
                "nsswitch.conf", "hosts", "host.conf", "resolv.conf", "gai.conf", "mime.types", "os-release",
                "lsb-release", "locale.alias", "alternatives", "fonts", "ssl/certs", "ca-certificates",
                "pki/tls/certs", "matplotlibrc")


@dataclass(frozen=True)
class Limits:
    """What one worker may use.

    ``memory_bytes`` is the address space of each process (RLIMIT_AS, so it includes
    torch's own) and, when the worker may start processes, the memory of all of them
    together (the watchdog).  ``processes`` is how many tasks (processes and threads) the
    worker may run on top of what its uid already runs.  ``spawn`` allows the student's code
    to start processes at all (off by default: no fork, no exec).  ``disk_bytes`` and
    ``disk_files`` bound the scratch directory, ``file_bytes`` each file, ``output_bytes``
    what is kept of the code's printed output.
    """

    load_seconds: float = 90.0
    call_seconds: float = 30.0
    memory_bytes: int = 6 * 2**30
    file_bytes: int = 64 * 2**20
    cpu_seconds: int = 900
    open_files: int = 512
    processes: int = 256
    disk_bytes: int = 512 * 2**20
    disk_files: int = 10_000
    output_bytes: int = 2**20
    spawn: bool = False

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
    incidents: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- what a worker may read

def _is_within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _hidden_dirs() -> set[str]:
    """The grader's package and course directory, and where the grading was started from."""
    return {os.path.realpath(p) for p in (PACKAGE_DIR, PACKAGE_ROOT, os.getcwd())} - {os.sep}


def _carve(root: str, hidden: set[str]) -> list[str]:
    """``root``, or its entries without the hidden directories inside it (Landlock only allows)."""
    if not any(h != root and _is_within(h, root) for h in hidden) or not os.path.isdir(root):
        return [root]
    kept = []
    for entry in sorted(os.listdir(root)):
        path = os.path.join(root, entry)
        real = os.path.realpath(path)
        if path in hidden or any(_is_within(real, h) for h in hidden):
            continue
        kept += _carve(path, hidden)
    return kept


@functools.lru_cache(maxsize=8)
def _readable_roots_for(cwd: str) -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin",
             "/proc", "/sys"}
    roots |= {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots |= {os.path.join("/etc", name) for name in ETC_READABLE}
    roots = {os.path.realpath(root) for root in roots if root and os.path.exists(root)}
    # a hidden directory that holds a root (the course directory holding .venv) cannot be hidden
    # wholesale, and needs nothing: only the roots are readable; one inside a root is carved out
    hidden = {h for h in _hidden_dirs() if not any(_is_within(root, h) for root in roots)}
    readable: set[str] = set()
    for root in roots:
        readable.update(_carve(root, hidden))
    return tuple(sorted(readable))


def _readable_roots() -> list[str]:
    """Where a worker may read: the Python installation and system libraries, not the course or the grader."""
    return list(_readable_roots_for(os.getcwd()))


def _guarded_prefixes(scratch: str) -> list[str]:
    """Where an attempt to look is worth a flag: the grader, the course, other workers' and submissions' files."""
    places = _hidden_dirs() | {os.path.dirname(scratch), os.path.dirname(os.path.dirname(scratch))}
    return sorted(os.path.realpath(p).rstrip(os.sep) + os.sep for p in places if os.path.realpath(p) != os.sep)


def become_subreaper() -> None:
    """Orphaned grandchildren of a worker come back to us (if not to the worker), so we can find and kill them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


# --------------------------------------------------------------------------- the worker

_LIVE: dict[int, "Worker"] = {}
_LIVE_LOCK = threading.Lock()


def _size(count: int) -> str:
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"


class Worker:
    """One running worker process for one Program."""

    def __init__(self, program: Program, limits: Limits) -> None:
        self.program = program
        self.limits = limits
        self.process: subprocess.Popen | None = None
        self.scratch: str | None = None
        self.started = 0.0
        self.incidents: list[str] = []
        self._pid = 0
        self._incidents_offset = 0
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
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.scratch, "TMPDIR": self.scratch,
               "PYTHONPATH": str(PACKAGE_ROOT), "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
               "JE_ARROW_MALLOC_CONF": "background_thread:false",  # no thread outside the lockdown
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
               "LANG": "C.UTF-8", "MPLBACKEND": "Agg"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.worker", str(request_read), str(reply_write)],
            pass_fds=(request_read, reply_write), cwd=self.scratch, env=env, start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(request_read)
        os.close(reply_write)
        self._pid = self.process.pid
        self._requests, self._replies = request_write, reply_read
        os.set_blocking(self._requests, False)
        with _LIVE_LOCK:
            _LIVE[self._pid] = self
        self._watchdog = threading.Thread(target=self._watch, name=f"autograder-watchdog-{self._pid}", daemon=True)
        self._watchdog.start()
        self._send({"scratch": self.scratch, "rlimits": self.limits.rlimits(),
                    "options": {"output_bytes": self.limits.output_bytes, "spawn": self.limits.spawn},
                    "trusted": self.program.trusted, "student": self.program.student,
                    "readable": _readable_roots(), "guarded": _guarded_prefixes(self.scratch)},
                   self.limits.load_seconds, "loading your code")
        reply = self._receive(self.limits.load_seconds, "loading your code")
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
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hints = {"SIGKILL": "killed: out of CPU time, or it killed itself or its process group",
                     "SIGSEGV": "segmentation fault", "SIGXCPU": "CPU time limit", "SIGBUS": "bus error",
                     "SIGABRT": "aborted"}
            return f"{name}, {hints.get(name, 'signal')}"
        return f"exit code {code}: os._exit or a fatal error"

    def _lose(self, reason: str, doing: str | None = None) -> None:
        if self._stop_reason:  # the watchdog stopped it: that is the reason, whatever the channel saw
            reason = f"{self._stop_reason} while {doing}" if doing else self._stop_reason
        self.close()
        raise WorkerLost(reason)

    def _collect_incidents(self) -> None:
        """New lines of the worker's incidents file (written by its monitor, so the student's to forge)."""
        if not self.scratch or len(self.incidents) >= MAX_INCIDENTS:
            return
        try:
            with open(os.path.join(self.scratch, INCIDENTS_FILE), "rb") as handle:
                if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                    return
                handle.seek(self._incidents_offset)
                data = handle.read(64 * 1024)
        except OSError:
            return
        complete = data[:data.rfind(b"\n") + 1]
        self._incidents_offset += len(complete)
        for line in complete.decode("utf-8", errors="replace").splitlines():
            line = " ".join(line.split())[:500]
            if line and line not in self.incidents and len(self.incidents) < MAX_INCIDENTS:
                self.incidents.append(line)

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
            for fd in (self._requests, self._replies):
                try:
                    os.close(fd)
                except OSError:
                    pass
            with self._kill_lock:
                victims = _kill_tree(self._pid, self.started)
            self.process.wait()
            _reap(victims)
            self.process = None
            with _LIVE_LOCK:
                _LIVE.pop(self._pid, None)
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
                        _kill_tree(self._pid, self.started)
                return

    def _over_limit(self, disk: bool) -> str | None:
        limits = self.limits
        tree = _descendants(self._pid)
        if not tree:
            return None
        if sum(_threads(pid) for pid in tree) > limits.processes:
            return f"your code started more than {limits.processes} processes or threads"
        if len(tree) > 1 and sum(_memory(pid) for pid in tree) > limits.memory_bytes:
            return f"your code used more than {_size(limits.memory_bytes)} of memory (all its processes together)"
        if disk and self.scratch:
            files, size = _disk_usage(self.scratch, tree, limits.disk_files)
            if files > limits.disk_files:
                return f"your code created more than {limits.disk_files} files"
            if size > limits.disk_bytes:
                return f"your code wrote more than {_size(limits.disk_bytes)} to disk"
        return None


# --------------------------------------------------------------------------- processes

@functools.lru_cache(maxsize=1)
def _proc_lists_children() -> bool:
    return os.path.exists(f"/proc/self/task/{threading.get_native_id()}/children")


def _children(pid: int) -> list[int] | None:
    """Direct children from /proc (None if this kernel does not list them there)."""
    if not _proc_lists_children():
        return None
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    children: list[int] = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                children += [int(n) for n in handle.read().split()]
        except (OSError, ValueError):
            continue
    return children


def _descendants(pid: int) -> list[int]:
    """``pid`` (if it exists) and every process below it."""
    if not os.path.exists(f"/proc/{pid}"):
        return []
    found, pending = [pid], [pid]
    while pending:
        current = pending.pop()
        children = _children(current)
        if children is None:
            try:
                return [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]
            except psutil.Error:
                return found
        for child in children:
            if child not in found:
                found.append(child)
                pending.append(child)
    return found


def _status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)
    except OSError:
        return {}


def _threads(pid: int) -> int:
    try:
        return int(_status(pid).get("Threads", "1"))
    except ValueError:
        return 1


def _memory(pid: int) -> int:
    """Proportional set size (shared pages shared out), or the resident size if that cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _disk_usage(scratch: str, tree: list[int], max_files: int) -> tuple[int, int]:
    """Entries and allocated bytes in the scratch directory, plus deleted files the tree keeps open."""
    seen: set[tuple[int, int]] = set()
    files = size = 0
    pending = [scratch]
    while pending:
        try:
            with os.scandir(pending.pop()) as entries:
                for entry in entries:
                    files += 1
                    if files > max_files:
                        return files, size
                    info = entry.stat(follow_symlinks=False)
                    if (info.st_dev, info.st_ino) not in seen:
                        seen.add((info.st_dev, info.st_ino))
                        size += info.st_blocks * 512
                    if stat.S_ISDIR(info.st_mode):
                        pending.append(entry.path)
        except OSError:
            continue
    device = os.stat(scratch).st_dev
    for pid in tree:
        try:
            descriptors = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for descriptor in descriptors:
            try:
                info = os.stat(f"/proc/{pid}/fd/{descriptor}")
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_dev == device and (info.st_dev, info.st_ino) not in seen:
                seen.add((info.st_dev, info.st_ino))
                size += info.st_blocks * 512
    return files, size


@functools.lru_cache(maxsize=1)
def _own_confinement() -> tuple[int, str]:
    status = _status(os.getpid())
    try:
        return int(status.get("Seccomp_filters", "0")), status.get("NoNewPrivs", "0")
    except ValueError:
        return 0, status.get("NoNewPrivs", "0")


def _sandboxed(pid: int) -> bool:
    """Whether a process carries a worker's confinement (more seccomp filters than us, or no_new_privs)."""
    status = _status(pid)
    filters, no_new_privs = _own_confinement()
    try:
        if "Seccomp_filters" in status and int(status["Seccomp_filters"]) > filters:
            return True
    except ValueError:
        pass
    return status.get("NoNewPrivs") == "1" and no_new_privs == "0"


def _orphans(started: float) -> list[int]:
    """Children of this process that a worker's processes left behind (they were reparented to us)."""
    children = _children(os.getpid())
    if children is None:
        children = [p.pid for p in psutil.Process().children()]
    with _LIVE_LOCK:
        live = set(_LIVE)
    found = []
    for pid in children:
        if pid in live:
            continue
        try:
            if psutil.Process(pid).create_time() >= started and _sandboxed(pid):
                found.append(pid)
        except psutil.Error:
            pass
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _kill_tree(pid: int, started: float) -> set[int]:
    """Stop the worker and everything below it or left behind by it, then kill them all.

    Stopping first (SIGSTOP cannot be caught) means nothing forks while the tree is being
    walked; the worker, alive though stopped, keeps its orphans attached below it.
    """
    _signal(pid, signal.SIGSTOP)
    stopped = {pid}
    for _ in range(200):
        found = [p for p in _descendants(pid) + _orphans(started) if p not in stopped]
        if not found:
            break
        for victim in found:
            _signal(victim, signal.SIGSTOP)
            stopped.add(victim)
    for victim in stopped:
        _signal(victim, signal.SIGKILL)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    return stopped - {pid}


def _reap(victims: set[int], seconds: float = 5.0) -> None:
    """Wait until the killed processes are gone, reaping those that were reparented to us."""
    pending = set(victims)
    deadline = time.monotonic() + seconds
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done == pid:
                    pending.discard(pid)
                    continue
            except ChildProcessError:
                pass
            try:
                with open(f"/proc/{pid}/stat") as handle:
                    state = handle.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                pending.discard(pid)
                continue
            if state == "Z" and not _is_our_child(pid):
                pending.discard(pid)  # its parent reaps it
        if pending:
            time.sleep(0.01)


def _is_our_child(pid: int) -> bool:
    try:
        return psutil.Process(pid).ppid() == os.getpid()
    except psutil.Error:
        return False
