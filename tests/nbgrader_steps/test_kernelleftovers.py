"""What a kernel leaves behind is found by ancestry, not by what it carries, and removed with its /dev/shm files.

A stand-in kernel (a subreaper, as the launcher makes the real one) starts a daemon that
double-forks, leaves its session and drops its environment; tests/nbgrader_steps/test_faults.py
checks the same under ``nbgrader autograde``.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid

import psutil

from autograder.nbgrader_steps.kernelleftovers import SHM, KernelLeftovers

KERNEL = """
import os, sys, time
from autograder.sandbox.child.confine import become_subreaper
become_subreaper()
reader, writer = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(writer, f"{os.getpid()}\\n".encode())
        os.execve("/bin/sleep", ["sleep", "600"], {})
    os._exit(0)
os.wait()
print(os.read(reader, 100).decode().strip(), flush=True)
time.sleep(600)
"""
LOG = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_daemon_without_session_or_environment_dies_with_the_kernel() -> None:
    leftovers = KernelLeftovers(marker="")
    kernel = subprocess.Popen([sys.executable, "-c", KERNEL], stdout=subprocess.PIPE, text=True)
    daemon = int(kernel.stdout.readline())
    assert psutil.Process(daemon).ppid() == kernel.pid, "the daemon came back to the kernel, a subreaper"
    assert psutil.Process(daemon).environ() == {}
    leftovers.end(kernel.pid, LOG)
    kernel.wait(10)
    assert not _alive(daemon)


def test_new_files_in_dev_shm_are_removed_unless_a_live_process_holds_them() -> None:
    before = os.path.join(SHM, f"autograder-test-{uuid.uuid4().hex}")
    open(before, "w").close()
    leftovers = KernelLeftovers(marker="")
    left, held = (os.path.join(SHM, f"autograder-test-{uuid.uuid4().hex}") for _ in range(2))
    open(left, "w").close()
    handle = open(held, "w")  # another student's kernel, still running, uses it
    try:
        leftovers.end(None, LOG)
        assert not os.path.exists(left)
        assert os.path.exists(held) and os.path.exists(before)
    finally:
        handle.close()
        for path in (before, held):
            os.unlink(path)
