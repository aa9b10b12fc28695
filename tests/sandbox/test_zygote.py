"""Workers forked from the zygote: nothing to borrow in it, nothing of it left in the worker, replaced when gone."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from autograder.errors import WorkerLost
from autograder.sandbox import zygote
from autograder.sandbox.handle import WorkerHandle
from autograder.sandbox.limits import Limits
from autograder.sandbox.program import Program
from autograder.sandbox.shared import WORKER_FDS

ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(call_seconds=5, load_seconds=45, memory_bytes=3 * 2**29)

WHAT_THE_ZYGOTE_HOLDS = """
import json, os, sys
from autograder.sandbox.child import zygote
zygote.import_later()
print(json.dumps({"modules": sorted(m for m in sys.modules if m.startswith("autograder")),
                  "libraries": [name for name in ("torch", "nltk", "transformers") if name in sys.modules],
                  "pending": zygote._pending, "threads": len(os.listdir("/proc/self/task"))}))
"""

# The student's code reports what its process holds, before any probe ran.
INSPECT = """
import json, os, sys
fds = {}
for name in os.listdir("/proc/self/fd"):
    try:
        fds[name] = os.readlink(f"/proc/self/fd/{name}")
    except OSError:
        pass
print(json.dumps({"fds": fds, "ppid": os.getppid(), "cmdline": open("/proc/self/cmdline").read().split("\\0"),
                  "torch_before_student": "torch" in sys.modules, "argv": sys.argv,
                  "home": os.environ.get("HOME"), "cwd": os.getcwd()}))
"""


def test_the_zygote_imports_the_libraries_but_no_probe_reference_or_course_code(tmp_path):
    """In the workers' environment (one thread for every library), as the grader starts it, after its later imports."""
    out = subprocess.run([sys.executable, "-c", WHAT_THE_ZYGOTE_HOLDS], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env=zygote.worker_environment(str(tmp_path))).stdout
    held = json.loads(out.splitlines()[-1])
    assert held["libraries"] == ["torch", "nltk", "transformers"] and not held["pending"]
    assert held["threads"] == 1  # pandas' pyarrow would start jemalloc's thread without JE_ARROW_MALLOC_CONF
    assert not [m for m in held["modules"] if m.startswith(("autograder.probes", "autograder.assignment",
                                                            "autograder.checks", "autograder.grading"))], held
    assert all(m.startswith(("autograder.sandbox.child", "autograder.sandbox.protocol", "autograder.sandbox.shared"))
               for m in held["modules"] if m not in ("autograder", "autograder.sandbox")), held["modules"]


def _inspect_worker() -> tuple[dict, WorkerHandle]:
    worker = WorkerHandle(Program(trusted=[], student=[("cell inspect", INSPECT)]), LIMITS)
    report = worker.start()
    assert not report.load_errors, report.load_errors
    return json.loads(worker.output_tail().strip().splitlines()[-1]), worker


def test_a_worker_is_a_fork_of_the_zygote_holding_only_its_channels():
    seen, worker = _inspect_worker()
    try:
        assert "autograder.sandbox.child.zygote" in seen["cmdline"]  # no fresh interpreter
        assert seen["torch_before_student"]
        assert seen["ppid"] == os.getpid()  # the grader's child: it reads how the worker ended
        assert psutil.Process(worker.process.pid).ppid() == os.getpid()
        listing = {name for name, target in seen["fds"].items() if target.startswith("/proc/")}
        held = {int(name): target for name, target in seen["fds"].items() if name not in listing}
        assert sorted(held) == [0, 1, 2, *WORKER_FDS], held  # not the zygote's socket, nothing else
        assert not any(target.startswith("socket:") for target in held.values()), held
        assert seen["argv"][1:] == [str(WORKER_FDS[0]), str(WORKER_FDS[1])]
        assert seen["home"] == seen["cwd"] == os.path.realpath(worker.scratch)
    finally:
        worker.close()


def test_a_worker_that_exits_is_reported_with_its_exit_code():
    worker = WorkerHandle(Program(trusted=[], student=[("cell exit", "import os\nos._exit(7)\n")]), LIMITS)
    try:
        with pytest.raises(WorkerLost, match="exit code 7"):
            worker.start()
    finally:
        worker.close()


def test_a_zygote_that_is_gone_is_started_again():
    _, worker = _inspect_worker()
    worker.close()
    first = zygote._zygote
    assert first is not None
    first.process.kill()
    first.process.wait()
    seen, worker = _inspect_worker()
    try:
        assert zygote._zygote is not first and zygote._zygote.alive()
        assert "autograder.sandbox.child.zygote" in seen["cmdline"]
    finally:
        worker.close()
