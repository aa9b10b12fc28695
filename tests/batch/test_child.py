"""A grading process forked from grade-all's server forks its workers' zygote from itself: the worker
then holds the libraries (no import of its own) and nothing of the grader's, not even its environment.

Run in a fresh interpreter, so that the server is the one ``grade-all`` starts whatever other tests
of this session started before.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "AUTOGRADER_TEST_GRADER_SECRET"

# The grader a task names: it starts one worker whose code reports what its process holds.
INSPECTING_GRADER = f'''
import json, os
from autograder import ENGINE_VERSION
from autograder.grading.report import GradeReport
from autograder.sandbox.handle import WorkerHandle
from autograder.sandbox.limits import Limits
from autograder.sandbox.program import Program

INSPECT = """
import json, os, sys
initial = dict(entry.split("=", 1) for entry in open("/proc/self/environ").read().split("\\\\0") if "=" in entry)
print(json.dumps({{"initial_environment": sorted(initial), "environment": sorted(os.environ),
                  "modules": sorted(m for m in sys.modules if m.startswith("autograder")),
                  "torch_before_student": "torch" in sys.modules, "ppid": os.getppid(),
                  "cmdline": open("/proc/self/cmdline").read().split("\\\\0")}}))
"""


def inspect(path, *, limits=None, parts=None, concurrent=None):
    worker = WorkerHandle(Program(trusted=[], student=[("cell inspect", INSPECT)]),
                          Limits(call_seconds=5, load_seconds=60, memory_bytes=3 * 2**29))
    try:
        worker.start()
        seen = json.loads(worker.output_tail(20_000).strip().splitlines()[-1])
    finally:
        worker.close()
    seen.update(grader_pid=os.getpid(), grader_secret=os.environ.get("{SECRET}"))
    return GradeReport(submission=json.dumps(seen), digest="0", engine_version=ENGINE_VERSION)
'''

RUN = f"""
import os, sys
from autograder.batch.isolate import Task, run_isolated
os.environ["{SECRET}"] = "the grader's own"
task = Task(student="s", filename="s.py", content=b"", grader="inspecting_grader:inspect", sys_path=(sys.argv[1],))
outcome = run_isolated(task, timeout=300, how="fork")
print(outcome.report_json or outcome.failure)
"""


def test_the_worker_of_a_forked_grading_process_holds_the_libraries_and_nothing_of_the_grader(tmp_path):
    (tmp_path / "inspecting_grader.py").write_text(INSPECTING_GRADER)
    out = subprocess.run([sys.executable, "-c", RUN, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600).stdout
    seen = json.loads(json.loads(out)["extra_data"]["submission"])
    assert seen["grader_secret"] == "the grader's own"  # the grading process took back the grader's environment
    assert SECRET not in seen["environment"] and SECRET not in seen["initial_environment"], seen
    assert not set(seen["initial_environment"]) - {"PATH", "HOME", "TMPDIR", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE",
                                                   "LANG", "MPLBACKEND", "TOKENIZERS_PARALLELISM", "HF_HUB_OFFLINE",
                                                   "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "OMP_NUM_THREADS",
                                                   "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "JE_ARROW_MALLOC_CONF"}
    assert seen["torch_before_student"] and "autograder.sandbox.child.zygote" not in seen["cmdline"]  # a fork
    assert seen["ppid"] == seen["grader_pid"]  # the grading process's child: it reads how the worker ended
    # (the worker imports its own probes, after the fork)
    assert not [m for m in seen["modules"] if m.startswith(("autograder.assignment", "autograder.checks",
                                                            "autograder.grading"))], seen["modules"]


GRADE_ALL = """
import sys
from autograder.batch.run import grade_all
result = grade_all(sys.argv[1], sys.argv[2], jobs=1, parts=["part-b-fix"], progress=False)
print(result.rows[0].score if result.rows else None)
"""


@pytest.mark.slow
def test_a_forked_grading_process_finds_the_course_data_with_an_empty_cache(tmp_path):
    """The server imported nltk in the workers' environment, without the grader's NLTK_DATA: the data
    the learning check trains on is made before it starts, in the grader's environment."""
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    shutil.copy(ROOT / "samples" / "submitted" / "alice" / "transformer" / "transformer.ipynb", submitted / "alice.ipynb")
    env = dict(os.environ, AUTOGRADER_CACHE=str(tmp_path / "empty-cache"))
    done = subprocess.run([sys.executable, "-c", GRADE_ALL, str(submitted), str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    report = json.loads((tmp_path / "out" / "alice" / "results.json").read_text())
    assert {test["name"]: test["score"] for test in report["tests"]}["fixed_layer_learns"] == 5.0, done.stdout
    assert not report["extra_data"]["flags"]


SLOW_GRADER = '''
import pathlib, time
from autograder import ENGINE_VERSION
from autograder.grading.report import GradeReport

time.sleep(1.0)  # a grader that takes a while to import
pathlib.Path(__file__).with_name("imported").touch()


def grade(path, *, limits=None, parts=None, concurrent=None):
    time.sleep(2.0)
    return GradeReport(submission="s", digest="0", engine_version=ENGINE_VERSION)
'''

WAIT_LOADED = """
import json, sys, threading
from pathlib import Path
from autograder.batch.isolate import Task, run_isolated
loaded = threading.Event()
task = Task(student="s", filename="s.py", content=b"", grader="slow_grader:grade", sys_path=(sys.argv[1],))
grading = threading.Thread(target=run_isolated, args=(task, 300), kwargs={"how": "fork", "loaded": loaded})
grading.start()
print(json.dumps({"loaded": loaded.wait(300), "engine": "autograder.grading.engine" in sys.modules,
                  "grader_imported": (Path(sys.argv[1]) / "imported").exists(), "still_grading": grading.is_alive()}))
grading.join()
"""


def test_a_grading_process_says_it_is_loaded_once_it_imported_its_grader_and_before_it_grades(tmp_path):
    """nbgrader starts the student's kernel only then: whatever it writes on disk, the code that grades is fixed."""
    (tmp_path / "slow_grader.py").write_text(SLOW_GRADER)
    run = subprocess.run([sys.executable, "-c", WAIT_LOADED, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)
    assert json.loads(run.stdout) == {"loaded": True, "engine": False, "grader_imported": True, "still_grading": True}, \
        run.stderr[-2000:]
