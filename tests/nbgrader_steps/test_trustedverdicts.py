"""The engine runs outside ``nbgrader autograde``'s process, with limits: its failure is one flagged notebook."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from nbformat.notebooknode import NotebookNode

from autograder import ENGINE_VERSION
from autograder.batch.isolate import Outcome, Task
from autograder.checks import ALL_CHECKS
from autograder.grading.report import CheckResult, GradeReport
from autograder.nbgrader_steps import trustedverdicts
from autograder.nbgrader_steps.enginechild import MEMORY_VARIABLE
from autograder.nbgrader_steps.flags import flags
from autograder.nbgrader_steps.starttrustedgrading import StartTrustedGrading
from autograder.nbgrader_steps.trustedverdicts import TrustedVerdicts

CLEAN = Path(__file__).resolve().parents[1] / "submissions" / "nbgrader_faults" / "clean.ipynb"


def test_a_grading_past_its_time_limit_scores_zero_with_a_flag_and_raises_nothing() -> None:
    notebook = nbformat.read(CLEAN, as_version=4)
    step = TrustedVerdicts(parts=["part-a"], time_limit=1.0)
    resources: dict = {"nbgrader": {"student": "slow", "notebook": "transformer"}}
    notebook, resources = step.preprocess(notebook, resources)
    assert any("trusted grading engine failed" in reason and "longer than 1 s" in reason for reason in flags(resources))
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") in ("test_sdpa", "test_mha"):
            assert cell.outputs[-1]["data"]["text/plain"] == "0.0"
            assert "Graded by the autograder outside your notebook's kernel: 0/15" in cell.outputs[0]["text"]


ALLOCATE = f"""
import os
os.environ[{MEMORY_VARIABLE!r}] = str(2 * 2**30)
from autograder.grading import engine
from autograder.nbgrader_steps import enginechild
engine.grade_submission = lambda *args, **kwargs: bytearray(3 * 2**30)
try:
    enginechild.grade_within_memory("unused.ipynb")
except MemoryError:
    print("stopped at the limit")
"""


def test_the_grading_process_cannot_grow_past_its_memory_limit() -> None:
    run = subprocess.run([sys.executable, "-c", ALLOCATE], capture_output=True, text=True, timeout=300)
    assert run.stdout.strip() == "stopped at the limit", run.stderr[-2000:]


class FakeEngine:
    """Stands in for run_isolated: records what it was asked to grade and scores test_sdpa by the code's length."""

    def __init__(self) -> None:
        self.graded: list[bytes] = []
        self.cancelled: list[bool] = []

    def __call__(self, task: Task, timeout: float = 0.0, cancel: threading.Event | None = None,
                 loaded: threading.Event | None = None) -> Outcome:
        self.graded.append(task.content)
        if loaded is not None:
            loaded.set()
        if cancel is not None:
            cancel.wait(0.5)
        self.cancelled.append(bool(cancel and cancel.is_set()))
        entry = next(entry for entry in ALL_CHECKS if entry.test_cell == "test_sdpa")
        got = float(len(task.content) % 2)
        report = GradeReport(submission=task.filename, digest="d", engine_version=ENGINE_VERSION,
                             results=[CheckResult(entry.name, entry.part, entry.test_cell, got, 1.0, "")])
        return Outcome(task.student, report_json=report.to_json())


def autograde_pass(monkeypatch: pytest.MonkeyPatch, between) -> tuple[FakeEngine, NotebookNode, NotebookNode]:
    """StartTrustedGrading, then ``between`` (the kernel's part), then TrustedVerdicts, with a fake engine."""
    engine = FakeEngine()
    monkeypatch.setattr(trustedverdicts, "run_isolated", engine)
    notebook = nbformat.read(CLEAN, as_version=4)
    resources: dict = {"nbgrader": {"student": "early", "notebook": "transformer"}}
    notebook, resources = StartTrustedGrading(parts=["part-a"]).preprocess(notebook, resources)
    between(notebook)
    graded, resources = TrustedVerdicts(parts=["part-a"]).preprocess(notebook, resources)
    assert trustedverdicts.PENDING_KEY not in resources
    return engine, notebook, graded


def test_the_grading_started_before_the_kernel_is_taken_when_only_outputs_changed(monkeypatch) -> None:
    def kernel_ran(notebook: NotebookNode) -> None:
        for number, cell in enumerate(c for c in notebook.cells if c.cell_type == "code"):
            cell.execution_count = number + 1
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="anything\n")]
            cell.metadata["execution"] = {"iopub.status.idle": "2026-12-04T00:00:00Z"}

    engine, notebook, _ = autograde_pass(monkeypatch, kernel_ran)
    assert engine.graded == [trustedverdicts.graded_notebook(notebook)] and engine.cancelled == [False]
    assert b"anything" not in engine.graded[0]


def test_code_that_changed_after_the_grading_started_is_graded_again(monkeypatch) -> None:
    def rewritten(notebook: NotebookNode) -> None:
        cell = next(c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "sdpa")
        cell.source += "\n# changed"

    engine, notebook, graded = autograde_pass(monkeypatch, rewritten)
    assert engine.cancelled == [True, False]
    assert engine.graded[1] == trustedverdicts.graded_notebook(notebook) != engine.graded[0]
    cell = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_sdpa")
    assert cell.outputs[-1]["data"]["text/plain"] == repr(15.0 * (len(engine.graded[1]) % 2))


def test_a_grading_nobody_took_is_stopped_when_the_next_notebook_starts(monkeypatch) -> None:
    engine = FakeEngine()
    monkeypatch.setattr(trustedverdicts, "run_isolated", engine)
    step = StartTrustedGrading(parts=["part-a"])
    for student in ("failed", "next"):  # the first notebook's pass failed after this step
        step.preprocess(nbformat.read(CLEAN, as_version=4), {"nbgrader": {"student": student, "notebook": "t"}})
    step._started.outcome()
    assert engine.cancelled == [True, False]


NBGRADER_PROCESS = f"""
import json, sys
import nbformat
from autograder.nbgrader_steps import trustedverdicts
from autograder.nbgrader_steps.starttrustedgrading import StartTrustedGrading
notebook = nbformat.read({str(CLEAN)!r}, as_version=4)
resources = {{"nbgrader": {{"student": "s", "notebook": "transformer"}}}}
notebook, resources = StartTrustedGrading(parts=["part-a"]).preprocess(notebook, resources)
loaded = resources[trustedverdicts.PENDING_KEY].wait_loaded(0)
step = trustedverdicts.TrustedVerdicts(parts=["part-a"])
step.preprocess(notebook, resources)
print(json.dumps({{"loaded_before_the_kernel": loaded, "torch": "torch" in sys.modules,
                  "engine": "autograder.grading.engine" in sys.modules, "score": step.report.score}}))
"""


def test_the_kernel_starts_after_the_grading_loaded_the_engine_and_nbgrader_imports_no_torch() -> None:
    run = subprocess.run([sys.executable, "-c", NBGRADER_PROCESS], capture_output=True, text=True, timeout=600)
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen == {"loaded_before_the_kernel": True, "torch": False, "engine": False, "score": 30.0}, run.stderr[-2000:]
