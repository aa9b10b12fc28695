"""The worker confines itself before the student's code runs: rlimits, no capabilities, Landlock, subreaper."""
from __future__ import annotations

import ctypes
import os
import resource
import signal

from autograder.sandbox.shared import PR_SET_CHILD_SUBREAPER

_PR_CAPBSET_DROP = 24
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def set_limits(limits: dict[str, int]) -> None:
    limits = dict(limits, RLIMIT_NPROC=_process_budget(limits.pop("RLIMIT_NPROC")))
    for name, value in limits.items():
        kind = getattr(resource, name)
        resource.setrlimit(kind, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _process_budget(extra: int) -> int:
    """RLIMIT_NPROC counts every task of the uid, so the budget is on top of what it already runs.

    (Linux does not enforce RLIMIT_NPROC for root at all; there the grader's watchdog counts.)
    """
    import psutil

    uid = os.getuid()
    running = 0
    for process in psutil.process_iter(["uids", "num_threads"]):
        if process.info["uids"] and process.info["uids"].real == uid:
            running += process.info["num_threads"] or 1
    return running + extra


def become_subreaper() -> None:
    """Orphans of the student's processes (a double-forked daemon) stay in this worker's tree."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def drop_capabilities() -> None:
    """Give up every capability, so a worker started as root cannot raise its limits or escape them.

    The uid stays the same (so the Python installation stays readable); without
    capabilities, root is held by the same rlimits as anyone, and Landlock does the rest.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in range(64):
        libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def lock_down(scratch: str, readable: list[str]) -> tuple[int, str]:
    """Confine the process with Landlock; returns the ABI and a note on what could be enforced."""
    import landlockpy

    abi = landlockpy.abi_version()
    if abi == 0:
        return 0, "landlock unavailable: file, network and signal confinement not enforced"
    fs = landlockpy.AccessFS
    with landlockpy.Ruleset(scoped=landlockpy.Scope.SIGNAL | landlockpy.Scope.ABSTRACT_UNIX_SOCKET) as ruleset:
        for path in readable:
            if os.path.isdir(path):
                ruleset.allow_path(path, fs.READ_FILE | fs.READ_DIR | fs.EXECUTE)
            elif os.path.exists(path):
                ruleset.allow_path(path, fs.READ_FILE | fs.EXECUTE)
        ruleset.allow_path(scratch, landlockpy.fs_for_abi(abi))
        for device in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"):
            ruleset.allow_path(device, fs.READ_FILE | fs.WRITE_FILE)
        ruleset.restrict(landlockpy.RestrictFlag.TSYNC)
    missing = []
    if abi < 4:
        missing.append("TCP")
    if abi < 6:
        missing.append("signal scoping")
    note = f"landlock ABI {abi} enforced" + (f" (without {', '.join(missing)})" if missing else "")
    return abi, note
