"""The engine runs outside ``nbgrader autograde``'s process, with limits: its failure is one flagged notebook."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

from autograder.nbgrader_steps.enginechild import MEMORY_VARIABLE
from autograder.nbgrader_steps.flags import flags
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
from autograder.nbgrader_steps import enginechild
enginechild.engine.grade_submission = lambda *args, **kwargs: bytearray(3 * 2**30)
try:
    enginechild.grade_within_memory("unused.ipynb")
except MemoryError:
    print("stopped at the limit")
"""


def test_the_grading_process_cannot_grow_past_its_memory_limit() -> None:
    run = subprocess.run([sys.executable, "-c", ALLOCATE], capture_output=True, text=True, timeout=300)
    assert run.stdout.strip() == "stopped at the limit", run.stderr[-2000:]
