"""The process that runs one part of one student's code, and nothing else.

It is started by :mod:`autograder.sandbox.handle`, sets its own limits, runs the trusted course
code, locks itself down, runs the student's code (:mod:`.loader`), then answers probe requests.
Everything it sends back is treated by the grader as the student's answer: data to judge,
never a verdict.

Locking down, in this order, once the trusted code has run (the process must still be
single-threaded, since capabilities, Landlock and seccomp are per-thread):

- answers out of reach: modules holding model answers (``autograder.assignment.reference``, which the
  trusted code of Part B and C imports) are cut down to what the trusted code took from
  them and dropped from ``sys.modules``;
- no capabilities (a worker started as root keeps its uid but loses root's powers);
- Landlock: read-only Python installation and system libraries, read-write scratch
  directory, no TCP, no signals or abstract sockets out of the sandbox;
- seccomp: no sockets, no permission/owner/timestamp changes (Landlock does not cover
  them), no new processes or programs (unless the limits allow them), no signals or
  priority/limit changes aimed at other processes, none of the kernel interfaces a
  Python program has no use for (io_uring, bpf, user namespaces, keyrings, ...).

Then a Python audit hook and a snapshot of the libraries' functions watch what the
student's code tries (reading the grader's files, starting processes, replacing
``torch.allclose``...).  They prevent nothing, the kernel does; they write what they see
to a pipe whose other end is the grader's, which reads it for its flags and checks from
outside (``/proc/<pid>/fd``) that the worker's end was not closed or replaced.
"""
from __future__ import annotations

import os
import sys

from autograder.sandbox import protocol
from autograder.sandbox.child.confine import become_subreaper, drop_capabilities, lock_down, set_limits
from autograder.sandbox.child.loader import Loader, notebook_namespace, student_traceback
from autograder.sandbox.child.monitor import MONITOR
from autograder.sandbox.child.output import redirect_output
from autograder.sandbox.child.seal import seal_modules
from autograder.sandbox.child.seccomp import install_seccomp


def main() -> None:
    request_fd, reply_fd = int(sys.argv[1]), int(sys.argv[2])
    init = protocol.receive(request_fd, max_bytes=protocol.MAX_REQUEST_BYTES)
    scratch = init["scratch"]
    options = init.get("options", {})
    os.chdir(scratch)
    redirect_output(scratch, int(options.get("output_bytes", 2**20)))
    become_subreaper()
    set_limits(init["rlimits"])

    import torch

    torch.set_num_threads(1)
    from autograder import probes

    probes.load_for(list(init["test_cells"]))

    namespace = notebook_namespace()
    for label, source in init["trusted"]:
        exec(compile(source, f"<{label}>", "exec", dont_inherit=True), namespace)
    trusted_names = dict(namespace)
    seal_modules(namespace)

    threads = len(os.listdir("/proc/self/task"))
    if threads != 1:
        protocol.send(reply_fd, {"fatal": f"{threads} threads were running before the worker locked itself down; "
                                          "confinement would cover only one of them"})
        return
    spawn = bool(options.get("spawn", False))
    memory_limit = f"{init['rlimits']['RLIMIT_AS'] / 2**30:g} GB for the whole process"
    drop_capabilities()
    abi, confinement = lock_down(scratch, init["readable"])
    confinement += "; " + install_seccomp(spawn)
    MONITOR.start(scratch, init.get("guarded", []), init["readable"], [label for label, _ in init["student"]], spawn,
                  int(init["incidents_fd"]))
    if abi < 6:
        MONITOR.note(f"the sandbox is weaker on this machine ({confinement}); tell the course staff")
    loader = Loader(namespace, statement_seconds=float(options.get("statement_seconds", 10.0)),
                    load_seconds=float(options.get("load_seconds", 90.0)), skip=set(init.get("skip", [])),
                    scratch=scratch)
    load_errors = loader.run([(label, source) for label, source in init["student"]])
    namespace.update(trusted_names)
    MONITOR.check_replaced()
    protocol.send(reply_fd, {"ready": True, "load_errors": load_errors, "confinement": confinement})

    while True:
        request = protocol.receive(request_fd, max_bytes=protocol.MAX_REQUEST_BYTES)
        probe = probes.PROBES.get(request.get("probe"))
        if probe is None:
            protocol.send(reply_fd, {"ok": False, "error": f"unknown probe {request.get('probe')!r}"})
            continue
        try:
            result = probe(namespace, **request.get("kwargs", {}))
            MONITOR.check_replaced()
            protocol.send(reply_fd, {"ok": True, "result": result})
        except BaseException as exc:  # student code may raise anything, SystemExit included
            if not isinstance(exc, Exception):
                MONITOR.note(f"your code raised {type(exc).__name__} (it does not stop the grading)")
            elif isinstance(exc, MemoryError) or "can't allocate memory" in str(exc)[:2000]:
                MONITOR.note(f"your code ran out of memory (the limit is {memory_limit})")
            MONITOR.check_replaced()
            protocol.send(reply_fd, {"ok": False, "error": student_traceback(exc)})


if __name__ == "__main__":
    main()
