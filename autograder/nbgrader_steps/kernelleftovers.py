"""Nothing the student's kernel started outlives its notebook: not its processes, not its /dev/shm files.

A process the kernel starts can leave the kernel's session (``start_new_session=True``),
double-fork so that its parent is gone, and drop its environment (``env={}``).  So the
processes are found by ancestry, not by what they carry: the launcher makes the kernel a
subreaper (:func:`autograder.sandbox.child.confine.become_subreaper`), so every orphan below
it comes back to it while it lives, and the nbgrader process is one too
(:func:`autograder.sandbox.proctree.become_subreaper`), so a kernel that died hands its
orphans to us.  When the notebook is done, :func:`autograder.sandbox.proctree.kill_tree`
stops and kills the kernel with everything below it and every confined process that came
back to us (the kernel runs with no_new_privs, which its processes cannot drop).  The
environment marker the kernel's processes inherit is a last net for a kernel that ran
unconfined and died.

Files in /dev/shm (POSIX shared memory and semaphores, which the kernel may write) that
appeared while the kernel ran and that no live process holds open or mapped are removed.
"""
from __future__ import annotations

import logging
import os
import shutil
import time

import psutil

from autograder.sandbox import proctree

SHM = "/dev/shm"
MARKER_VARIABLE = "AUTOGRADER_KERNEL_RUN"  # in the kernel's environment: this run's marker


class KernelLeftovers:
    """What one kernel may leave behind: noted when it starts (:meth:`__init__`), removed by :meth:`end`."""

    def __init__(self, marker: str) -> None:
        proctree.become_subreaper()
        self.marker = marker
        self.started = time.time() - 1.0  # as the worker handles do: processes created after this may be ours
        self.shm_before = _shm_names()
        self.ended = False

    def end(self, kernel_pid: int | None, log: logging.Logger | logging.LoggerAdapter) -> None:
        """Kill the kernel (if still running), everything it started, and remove its /dev/shm files. Idempotent."""
        if self.ended:
            return
        self.ended = True
        killed = proctree.kill_tree(kernel_pid, self.started) if kernel_pid else set()
        proctree.reap(killed)
        if kernel_pid:
            proctree.wait_exited(kernel_pid)  # the kernel itself maps its segments until it has exited
        if killed:
            log.warning("killed %d process(es) the student's kernel left running", len(killed))
        kill_marked_processes(self.marker, log)
        removed = _remove_new_shm_files(self.shm_before, self.started)
        if removed:
            log.warning("removed %d file(s) the student's kernel left in %s: %s", len(removed), SHM,
                        ", ".join(sorted(removed))[:300])


def kill_marked_processes(marker: str, log: logging.Logger | logging.LoggerAdapter) -> None:
    """Kill every process whose environment carries this run's marker."""
    if not marker:
        return
    for _ in range(3):
        victims = []
        for process in psutil.process_iter():
            try:
                if process.pid != os.getpid() and process.environ().get(MARKER_VARIABLE) == marker:
                    victims.append(process)
            except psutil.Error:
                pass
        if not victims:
            return
        for victim in victims:
            try:
                log.warning("killing process %d (%s) left behind by the student's kernel", victim.pid, victim.name())
                victim.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(victims, timeout=2)


def _shm_names() -> set[str]:
    try:
        return set(os.listdir(SHM))
    except OSError:
        return set()


def _remove_new_shm_files(before: set[str], since: float) -> list[str]:
    """Remove the files that appeared in /dev/shm after ``since`` (not in ``before``) and no process uses."""
    new = {name for name in _shm_names() - before if _changed_since(os.path.join(SHM, name), since)}
    if not new:
        return []
    in_use = _shm_files_in_use()
    removed = []
    for name in sorted(new):
        path = os.path.join(SHM, name)
        if path in in_use:
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed.append(name)
        except OSError:
            pass
    return removed


def _changed_since(path: str, since: float) -> bool:
    try:
        return os.lstat(path).st_ctime >= since
    except OSError:
        return False


def _shm_files_in_use() -> set[str]:
    """Paths under /dev/shm that a live process has open or mapped (another student's, or the system's)."""
    used: set[str] = set()
    for pid in (entry for entry in os.listdir("/proc") if entry.isdigit()):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith(SHM + "/"):
                    used.add(target.removesuffix(" (deleted)"))
            with open(f"/proc/{pid}/maps") as maps:
                used.update(line.split(None, 5)[5].strip() for line in maps
                            if SHM + "/" in line and len(line.split(None, 5)) == 6)
        except OSError:
            continue
    return used
