"""The process that runs one part of one student's code, and nothing else.

It is started by :mod:`autograder.sandbox`, sets its own limits, runs the trusted course
code, locks itself down (Landlock: no file outside its scratch directory and the Python
installation, no network, no signals out of its domain), runs the student's definitions,
then answers probe requests.  Everything it sends back is treated by the grader as the
student's answer: data to judge, never a verdict.
"""
from __future__ import annotations

import ast
import ctypes
import os
import resource
import signal
import sys
import traceback
from typing import Any

from autograder import protocol

_PR_CAPBSET_DROP = 24
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_definition(node: ast.stmt) -> bool:
    """Whether a top-level statement defines something rather than doing work.

    Calls at the top level (training runs, downloads, prints, shell magics) are what make
    an exported notebook slow or unsafe to import, so assignments are kept only when their
    value calls nothing.
    """
    if isinstance(node, _KEPT_STATEMENTS):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return not any(isinstance(sub, ast.Call) for sub in ast.walk(node.value))
    return False


def _student_traceback(exc: BaseException) -> str:
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith(os.path.dirname(__file__))]
    lines = traceback.format_list(frames[-6:])
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-4000:]


def exec_definitions(source: str, label: str, namespace: dict[str, Any]) -> list[str]:
    """Run the definitions in ``source`` one statement at a time; return the errors met."""
    try:
        tree = ast.parse(source, filename=f"<{label}>")
    except SyntaxError as exc:
        return [f"{label}: syntax error on line {exc.lineno}: {exc.msg}"]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [f"{label}: cannot be parsed ({type(exc).__name__})"]
    errors = []
    for node in tree.body:
        if not _is_definition(node):
            continue
        module = ast.Module(body=[node], type_ignores=[])
        try:
            exec(compile(module, f"<{label}>", "exec"), namespace)
        except BaseException as exc:  # student code may raise SystemExit or KeyboardInterrupt
            errors.append(f"{label}, line {node.lineno}:\n{_student_traceback(exc)}")
    return errors


def _set_limits(limits: dict[str, int]) -> None:
    limits = dict(limits, RLIMIT_NPROC=_process_budget(limits.pop("RLIMIT_NPROC")))
    for name, value in limits.items():
        kind = getattr(resource, name)
        resource.setrlimit(kind, (value, value))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _redirect_output(scratch: str) -> None:
    log = os.open(os.path.join(scratch, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def _drop_capabilities() -> None:
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


def _process_budget(extra: int) -> int:
    """RLIMIT_NPROC counts every task of the uid, so the budget is on top of what it already runs."""
    import psutil

    uid = os.getuid()
    running = 0
    for process in psutil.process_iter(["uids", "num_threads"]):
        if process.info["uids"] and process.info["uids"].real == uid:
            running += process.info["num_threads"] or 1
    return running + extra


def _lock_down(scratch: str, readable: list[str]) -> str:
    """Confine the process with Landlock; returns a note on what could be enforced."""
    import landlockpy

    abi = landlockpy.abi_version()
    if abi == 0:
        return "landlock unavailable: file and network confinement not enforced"
    fs = landlockpy.AccessFS
    read = fs.READ_FILE | fs.READ_DIR | fs.EXECUTE
    with landlockpy.Ruleset(scoped=landlockpy.Scope.SIGNAL | landlockpy.Scope.ABSTRACT_UNIX_SOCKET) as ruleset:
        for path in readable:
            if os.path.exists(path):
                ruleset.allow_path(path, read)
        ruleset.allow_path(scratch, landlockpy.fs_for_abi(abi))
        for device in ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random"):
            ruleset.allow_path(device, fs.READ_FILE | fs.WRITE_FILE)
        ruleset.restrict()
    return f"landlock ABI {abi} enforced"


def main() -> None:
    request_fd, reply_fd = int(sys.argv[1]), int(sys.argv[2])
    init = protocol.receive(request_fd)
    scratch = init["scratch"]
    os.chdir(scratch)
    _redirect_output(scratch)
    _set_limits(init["rlimits"])

    import torch

    torch.set_num_threads(1)
    from autograder import probes

    probes.load_all()

    namespace: dict[str, Any] = {"__name__": "__student__"}
    for label, source in init["trusted"]:
        exec(compile(source, f"<{label}>", "exec"), namespace)
    trusted_names = dict(namespace)

    _drop_capabilities()
    confinement = _lock_down(scratch, init["readable"])
    load_errors: list[str] = []
    for label, source in init["student"]:
        load_errors += exec_definitions(source, label, namespace)
    namespace.update(trusted_names)
    protocol.send(reply_fd, {"ready": True, "load_errors": load_errors, "confinement": confinement})

    while True:
        request = protocol.receive(request_fd)
        probe = probes.PROBES.get(request.get("probe"))
        if probe is None:
            protocol.send(reply_fd, {"ok": False, "error": f"unknown probe {request.get('probe')!r}"})
            continue
        try:
            result = probe(namespace, **request.get("kwargs", {}))
            protocol.send(reply_fd, {"ok": True, "result": result})
        except BaseException as exc:  # student code may raise anything, SystemExit included
            protocol.send(reply_fd, {"ok": False, "error": _student_traceback(exc)})


if __name__ == "__main__":
    main()
