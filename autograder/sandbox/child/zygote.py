"""The process every worker is forked from: torch, numpy, transformers and nltk imported once, nothing else.

A fresh interpreter per worker spends most of its start importing torch (and Part B's nltk,
Part C's transformers).  This process imports them once (torch first, the others while it waits
for requests), stays single-threaded (one torch thread, no
parallel operation ever run, so a fork inherits no thread pool), and on each request of the
grader forks a worker that then starts exactly as ``python -m autograder.sandbox.child.main``
would: its own session, the worker's environment and working directory, only the three
descriptors of its channels (at :data:`~autograder.sandbox.shared.WORKER_FDS`), and then
:func:`autograder.sandbox.child.main.main`, which sets the limits and confines the worker as before.

It holds nothing a worker could borrow: no probe, no reference, no course code (the worker
imports its own test cells' probes itself, after the fork).  It forks twice so that the worker is
the grading process's child (the grader is a subreaper), which waits for it and reads how it
ended, as it did for a worker it started itself.  Requests come on a socket only the grader
holds; the worker closes its copy before any student code runs.
"""
from __future__ import annotations

import fcntl
import importlib
import json
import os
import select
import socket
import sys
import tempfile
import traceback

import numpy  # noqa: F401  (imported here once, for every worker)
import torch

from autograder.sandbox.child import main as worker_main
from autograder.sandbox.shared import WORKER_FDS

MAX_REQUEST = 1 << 16
# Imported after the zygote said it is ready, one at a time while no request waits: Part A's workers
# need neither, and the grader's first request should not wait for them.  Part B's data cell imports
# nltk (with scipy, scikit-learn and pandas, 1.5 s a worker); Part C uses transformers' tokenizers.
LATER = ("transformers", "transformers.models.auto.tokenization_auto", "nltk")


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


_pending = list(LATER)


def import_later(control: socket.socket | None = None) -> None:
    """Import the :data:`LATER` modules not imported yet, stopping as soon as a request waits on ``control``.

    One that fails to import is left to the workers, which then report the error where it matters.
    """
    while _pending and not (control is not None and select.select([control], [], [], 0)[0]):
        try:
            importlib.import_module(_pending.pop(0))
        except Exception:  # noqa: S110  (a preload, not a requirement)
            pass


def serve(control: socket.socket) -> None:
    """Fork a worker for each request until the grader closes its end; import :data:`LATER` while idle."""
    while True:
        import_later(control)
        try:
            message, fds, _, _ = socket.recv_fds(control, MAX_REQUEST, len(WORKER_FDS))
        except OSError:
            return
        if not message:
            return
        try:
            reply = _fork_worker(control, json.loads(message), fds)
        except Exception as exc:  # a request we cannot serve is the grader's problem, told to it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            for fd in fds:
                os.close(fd)
        control.send(json.dumps(reply).encode())


def _fork_worker(control: socket.socket, request: dict, fds: list[int]) -> dict:
    if len(fds) != len(WORKER_FDS):
        return {"error": f"{len(fds)} descriptors came with the request, not {len(WORKER_FDS)}"}
    if threads() != 1:
        return {"error": f"the zygote runs {threads()} threads; a fork would inherit a broken thread pool"}
    report_read, report_write = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            os.close(report_read)
            _become_worker(control, fds, report_write, request)
        finally:
            os._exit(1)
    os.close(report_write)
    with os.fdopen(report_read, "rb") as report:
        text = report.read(64).decode()
    os.waitpid(middle, 0)
    if not text.isdigit():
        return {"error": "the worker did not start"}
    pid = int(text)
    if _parent_of(pid) != os.getppid():
        return {"error": "the worker was not adopted by the grading process (it is not a subreaper)"}
    return {"pid": pid}


def _parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _become_worker(control: socket.socket, fds: list[int], report_write: int, request: dict) -> None:
    """In the first fork: fork the worker and leave, so that the worker is orphaned to the grader."""
    control.close()
    if os.fork() != 0:
        os._exit(0)
    os.setsid()
    given = (*fds, report_write)
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in given]  # out of the way of the numbers they go to
    for fd in given:
        os.close(fd)
    for source, target in zip(high, WORKER_FDS):
        os.dup2(source, target)
    os.write(high[-1], str(os.getpid()).encode())
    os.close(high[-1])  # the zygote reads up to end-of-file
    os.closerange(max(WORKER_FDS) + 1, os.sysconf("SC_OPEN_MAX"))  # as subprocess's close_fds did
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # found again from TMPDIR
    sys.argv = [worker_main.__file__, str(WORKER_FDS[0]), str(WORKER_FDS[1])]
    code = 0
    try:
        worker_main.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
        code = 1
    os._exit(code)


def main(control_fd: int | None = None) -> None:
    """Serve the grader on ``control_fd`` (by default the descriptor named on the command line)."""
    torch.set_num_threads(1)
    control = socket.socket(fileno=int(sys.argv[1]) if control_fd is None else control_fd)
    ready = threads() == 1
    control.send(json.dumps({"ready": ready, "threads": threads()}).encode())
    if ready:
        serve(control)
    os._exit(0)  # nothing to flush or clean up, and tearing down torch's modules would hold up the grader's exit


if __name__ == "__main__":
    main()
