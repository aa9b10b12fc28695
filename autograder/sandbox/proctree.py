"""The one copy of process-tree handling: finding a worker's processes, stopping and killing them, reaping.

Used by the worker handles and by ``grade-all``'s supervisor.  Orphans (a double-forked
``setsid`` daemon) come back to the worker, which is a subreaper, or else to the grading
process, which is one too; they are recognised by their seccomp filter, which the student's
code cannot remove.
"""
from __future__ import annotations

import ctypes
import functools
import os
import signal
import threading
import time

import psutil

from autograder.sandbox.shared import PR_SET_CHILD_SUBREAPER

_LIVE: set[int] = set()   # pids of the workers this process runs now: not orphans
_LIVE_LOCK = threading.Lock()


def register_worker(pid: int) -> None:
    with _LIVE_LOCK:
        _LIVE.add(pid)


def unregister_worker(pid: int) -> None:
    with _LIVE_LOCK:
        _LIVE.discard(pid)


def become_subreaper() -> None:
    """Orphaned grandchildren of a worker come back to us (if not to the worker), so we can find and kill them."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


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


def descendants(pid: int) -> list[int]:
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


def proc_status(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status") as handle:
            return dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)
    except OSError:
        return {}


@functools.lru_cache(maxsize=1)
def _own_confinement() -> tuple[int, str]:
    status = proc_status(os.getpid())
    try:
        return int(status.get("Seccomp_filters", "0")), status.get("NoNewPrivs", "0")
    except ValueError:
        return 0, status.get("NoNewPrivs", "0")


def _sandboxed(pid: int) -> bool:
    """Whether a process carries a worker's confinement (more seccomp filters than us, or no_new_privs)."""
    status = proc_status(pid)
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


def send_signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def kill_tree(pid: int, started: float) -> set[int]:
    """Stop the worker and everything below it or left behind by it, then kill them all.

    Stopping first (SIGSTOP cannot be caught) means nothing forks while the tree is being
    walked; the worker, alive though stopped, keeps its orphans attached below it.
    """
    send_signal(pid, signal.SIGSTOP)
    stopped = {pid}
    for _ in range(200):
        found = [p for p in descendants(pid) + _orphans(started) if p not in stopped]
        if not found:
            break
        for victim in found:
            send_signal(victim, signal.SIGSTOP)
            stopped.add(victim)
    for victim in stopped:
        send_signal(victim, signal.SIGKILL)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    return stopped - {pid}


def reap(victims: set[int], seconds: float = 5.0) -> None:
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


def wait_exited(pid: int, seconds: float = 5.0) -> None:
    """Wait until ``pid`` has exited (a zombie or gone) without reaping it: its owner keeps its exit status.

    A killed process keeps its open files and mappings until it has exited; what it held is
    only free once this returns.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return
        except (OSError, IndexError):
            return
        time.sleep(0.01)


def _is_our_child(pid: int) -> bool:
    try:
        return psutil.Process(pid).ppid() == os.getpid()
    except psutil.Error:
        return False
