"""One ``nbgrader autograde`` of a whole class whose notebooks break stock nbgrader, and a kernel that leaves things.

The class is tests/submissions/nbgrader_faults/ (see make_faults.py there), graded in one run
(no ``--student``): stock nbgrader gives most of these students nothing, and a schema_version
it does not read stops the run for everyone sorted after that student.  Each must be graded
from its code and flagged; and nothing the kernel started may survive its notebook.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import psutil
import pytest
from nbgrader_course import (
    ASSIGNMENT,
    db_url_of,
    gradebook_flags,
    gradebook_scores,
    make_course,
    nbgrader,
    submit,
)

from autograder.sandbox.limits import Limits

FAULTS = Path(__file__).resolve().parents[1] / "submissions" / "nbgrader_faults"
sys.path.insert(0, str(FAULTS))
import make_faults  # noqa: E402, I001

pytestmark = pytest.mark.slow


def students(expected: dict) -> list[str]:
    return [name.removesuffix(".ipynb") for name in expected if name.endswith(".ipynb")]


@pytest.fixture(scope="module")
def class_run(tmp_path_factory: pytest.TempPathFactory, expected_verdicts) -> dict:
    expected = expected_verdicts("nbgrader_faults")
    course = make_course(tmp_path_factory.mktemp("faults"))
    for student in students(expected):
        fixture = FAULTS / f"{student}.ipynb"
        submit(course, student, fixture.read_text() if fixture.exists() else make_faults.deep_nested_text())
    run = nbgrader(course, "autograde", ASSIGNMENT, "--force", check=False)
    return {"course": course, "run": run, "expected": expected, "db_url": db_url_of(course)}


def test_the_class_run_ends_well_and_grades_every_student(class_run: dict) -> None:
    assert class_run["run"].returncode == 0, class_run["run"].stderr[-4000:]
    for student in students(class_run["expected"]):
        scores = gradebook_scores(class_run["db_url"], student)
        assert None not in (scores["test_sdpa"], scores["test_mha"]), f"{student} was not graded"


@pytest.mark.parametrize("name", [name for name in make_faults.VARIANTS] + ["deep_nested_metadata"])
def test_each_notebook_is_graded_from_its_code_and_flagged(class_run: dict, name: str) -> None:
    expected = class_run["expected"][f"{name}.ipynb"]
    scores = gradebook_scores(class_run["db_url"], name)
    assert {cell: scores[cell] for cell in expected["scores"]} == pytest.approx(expected["scores"])
    flagged, reasons = gradebook_flags(class_run["db_url"], name)
    assert flagged == bool(expected["flags"]), reasons
    if not expected["flags"]:
        assert reasons == []
    position = 0
    for wanted in expected["flags"]:
        found = [i for i, reason in enumerate(reasons) if wanted in reason and i >= position]
        assert found, f"{wanted!r} not among the flags (in order): {reasons}"
        position = found[0] + 1


def test_nothing_the_kernel_started_survives_its_notebook(class_run: dict) -> None:
    """Not a process that left the kernel's session, tree and environment, not a file in /dev/shm."""
    survivors = [process.info["cmdline"] for process in psutil.process_iter(["cmdline"])
                 if process.info["cmdline"] in (["sleep", seconds] for seconds in make_faults.LEFTOVER_SLEEPS)]
    assert not survivors
    assert not [name for name in os.listdir("/dev/shm") if name.startswith(make_faults.SHM_PREFIX)]
    assert "LIMITS=" in _printed(class_run["course"], "leaves_processes_and_shm"), "the cell did not run"


def test_the_kernel_has_the_workers_resource_limits(class_run: dict) -> None:
    printed = _printed(class_run["course"], "leaves_processes_and_shm")
    limits = json.loads(re.search(r"LIMITS=(.*)", printed).group(1))
    wanted = Limits().rlimits()
    for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE"):
        assert limits[name] == [wanted[name], wanted[name]], name
    assert 0 < limits["RLIMIT_NPROC"][0] < 2**31  # a budget on top of what the uid runs, never unlimited


def test_only_a_changed_test_cell_is_logged_as_changed_and_the_gradebook_logs_clean(class_run: dict) -> None:
    """A test cell as released gets its hidden tests back quietly; one the student edited is logged (issue 17)."""
    log = class_run["run"].stdout + class_run["run"].stderr
    assert "SAWarning" not in log
    segments = re.split(r"Creating/updating student with ID '(\w+)'", log)
    changed = {student for student, text in zip(segments[1::2], segments[2::2])
               if "Attribute 'checksum' for cell test_" in text}
    assert changed == {"edited_test_cell"}


def _printed(course: Path, student: str) -> str:
    notebook = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []))
