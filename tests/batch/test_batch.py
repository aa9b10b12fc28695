"""Batch grading (autograder.batch, `python -m autograder grade-all`): parallel = serial, resume,
isolation of failures, the gradebook CSV, the Dask path.

Graded with part-a only and tiny .py submissions, so that these tests stay fast and do not
depend on the checks of the other parts.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import statistics
import sys
import time
from pathlib import Path

import pytest

from autograder import ENGINE_VERSION
from autograder.batch.discover import discover
from autograder.batch.isolate import Task, run_isolated
from autograder.batch.run import grade_all
from autograder.checks import ALL_CHECKS
from autograder.grading.engine import grade_submission
from autograder.grading.report import GradeReport

PARTS = ["part-a"]
# grades.csv's columns, as the README documents them for instructors' spreadsheets
GRADES_CSV_HEADER = "student,submission,part-a,part-b-hook,part-b-fix,part-c,total,max,status,flags\n"
SDPA_POINTS = sum(c.points for c in ALL_CHECKS if c.test_cell == "test_sdpa")  # the fixtures define only sdpa
PART_A_MAX = sum(c.points for c in ALL_CHECKS if c.part == "part-a")

GOOD = '''\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights
'''
WRONG = GOOD.replace("/ math.sqrt(Q.size(-1))", "")
KILLS_ITS_WORKER = GOOD.replace("    scores = torch", "    import os\n    os._exit(1)\n    scores = torch", 1)


def faulty_grade(path, *, limits=None, parts=None, concurrent=False):
    """The engine, except that some files break the grading process itself (as a grader bug would)."""
    name = Path(path).stem
    if name == "erin":
        os._exit(7)
    if name == "frank":
        raise RuntimeError("simulated grader bug")
    if name == "gina":
        time.sleep(600)
    if name == "ivan":
        os.kill(os.getpid(), signal.SIGKILL)
    return grade_submission(path, limits=limits, parts=parts, concurrent=concurrent)


FAULTY = f"{faulty_grade.__module__}:faulty_grade"


def make_folder(root: Path) -> Path:
    """Flat .py files plus an nbgrader-style student folder with nothing in it."""
    root.mkdir(parents=True)
    for student, code in {"alice": GOOD, "bob": WRONG, "carol": GOOD + "# carol\n", "dave": KILLS_ITS_WORKER,
                          "erin": GOOD + "# erin\n", "frank": GOOD + "# frank\n"}.items():
        (root / f"{student}.py").write_text(code)
    (root / "hank" / "transformer").mkdir(parents=True)
    return root


def outputs(out: Path) -> dict[str, str]:
    """Every output file's text by relative path (the manifest included)."""
    return {path.relative_to(out).as_posix(): path.read_text() for path in sorted(out.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    base = tmp_path_factory.mktemp("batch")
    folder = make_folder(base / "submitted")
    result = grade_all(folder, base / "serial", jobs=1, parts=PARTS, grader=FAULTY, progress=False)
    return folder, result


def test_parallel_equals_serial_and_failures_stay_contained(serial, tmp_path):
    folder, first = serial
    second = grade_all(folder, tmp_path / "parallel", jobs=2, parts=PARTS, grader=FAULTY, progress=False)
    assert outputs(first.out) == outputs(second.out)

    rows = {row.student: row for row in first.rows}
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin", "frank", "hank"]
    assert (rows["alice"].status, rows["alice"].report.score) == ("graded", SDPA_POINTS)
    assert (rows["carol"].status, rows["carol"].report.score) == ("graded", SDPA_POINTS)
    # bob forgets the scaling: the value checks fail, the checks of shapes and masks still pass
    bob = rows["bob"].report
    assert rows["bob"].status == "graded" and 0 < bob.score < SDPA_POINTS
    assert not next(r for r in bob.results if r.name == "sdpa_values").passed
    # the student's code killing its sandbox worker is the engine's business: graded 0, flagged
    assert rows["dave"].status == "graded" and rows["dave"].report.score == 0.0
    assert any("part-a" in flag for flag in rows["dave"].report.flags)
    # the grading process itself dying or raising: a zero row that says why, and nobody else is touched
    assert rows["erin"].status == "failed" and rows["erin"].report.score == 0.0
    assert rows["erin"].report.flags == ["grading failed: the grading process exited with code 7 without a result"]
    assert rows["erin"].report.max_score == PART_A_MAX
    assert rows["frank"].status == "failed"
    assert rows["frank"].report.flags == ["grading failed: the grader raised RuntimeError: simulated grader bug"]
    assert rows["hank"].status == "missing" and rows["hank"].report.flags == ["no notebook found in hank/transformer/"]
    assert sorted(row.student for row in first.failed) == ["erin", "frank"]

    saved = json.loads((first.out / "alice" / "results.json").read_text())
    assert saved["score"] == SDPA_POINTS and saved["extra_data"]["engine_version"] == ENGINE_VERSION
    summary = json.loads((first.out / "summary.json").read_text())
    assert summary["graded"] == 4 and summary["failed"] == ["erin", "frank"] and summary["missing"] == ["hank"]
    assert summary["score"]["median"] == statistics.median([SDPA_POINTS, SDPA_POINTS, bob.score, 0.0])
    most_failed = summary["most_failed_checks"]
    assert most_failed[0]["failed"] == 4 and most_failed[0]["part"] == "part-a"  # nobody wrote MultiHeadAttention
    assert [c["failed"] for c in most_failed] == sorted((c["failed"] for c in most_failed), reverse=True)
    assert sum(bucket["count"] for bucket in summary["histogram"]) == 4


def test_grading_process_that_hangs_or_is_killed(tmp_path):
    folder = tmp_path / "submitted"
    folder.mkdir()
    (folder / "gina.py").write_text(GOOD)
    (folder / "ivan.py").write_text(GOOD)
    result = grade_all(folder, tmp_path / "out", jobs=2, parts=PARTS, grader=FAULTY, timeout=3, progress=False)
    gina, ivan = result.rows
    assert gina.status == "failed" and gina.report.flags == ["grading failed: grading took longer than 3 s and was stopped"]
    assert ivan.status == "failed" and ivan.report.flags == ["grading failed: the grading process was killed by SIGKILL"]


def test_resume_skips_unchanged_and_regrades_changed(serial, tmp_path):
    folder, first = serial
    folder = Path(shutil.copytree(folder, tmp_path / "submitted"))
    out = Path(shutil.copytree(first.out, tmp_path / "out"))
    before = outputs(out)
    again = grade_all(folder, out, jobs=2, parts=PARTS, grader=FAULTY, progress=False)
    assert again.reused == 4  # alice, bob, carol, dave; erin and frank failed, so they are tried again
    assert again.graded == 2
    assert outputs(out) == before

    (folder / "bob.py").write_text(GOOD + "# fixed\n")
    third = grade_all(folder, out, jobs=2, parts=PARTS, grader=FAULTY, progress=False)
    assert third.graded == 3 and third.reused == 3
    bob = next(row for row in third.rows if row.student == "bob")
    assert bob.report.score == SDPA_POINTS and not bob.reused
    assert json.loads((out / "bob" / "results.json").read_text())["score"] == SDPA_POINTS
    after = outputs(out)
    assert {name for name in before if before[name] != after[name]} == {
        "bob/results.json", "manifest.json", "grades.csv", "summary.json", "summary.txt"}


def test_grades_csv(serial):
    _, first = serial
    with open(first.out / "grades.csv", newline="") as handle:
        assert handle.readline() == GRADES_CSV_HEADER
        handle.seek(0)
        rows = list(csv.DictReader(handle))
    assert [row["student"] for row in rows] == ["alice", "bob", "carol", "dave", "erin", "frank", "hank"]
    alice = rows[0]
    assert (alice["submission"], alice["part-a"], alice["part-b-hook"], alice["part-c"], alice["total"],
            alice["max"], alice["status"], alice["flags"]) == (
        "alice.py", f"{SDPA_POINTS:g}", "", "", f"{SDPA_POINTS:g}", f"{PART_A_MAX:g}", "graded", "")
    erin = rows[4]
    assert (erin["total"], erin["max"], erin["status"]) == ("0", f"{PART_A_MAX:g}", "failed")
    assert "exited with code 7" in erin["flags"]
    assert rows[6]["status"] == "missing" and rows[6]["submission"] == ""


def test_discover_nbgrader_layout(tmp_path):
    root = tmp_path / "submitted"
    for student, names in {"amy": ["transformer.ipynb"], "ben": ["copy.ipynb", "transformer.ipynb"],
                           "cy": [], "dan": ["notes.ipynb"]}.items():
        folder = root / student / "transformer"
        folder.mkdir(parents=True)
        (folder / ".ipynb_checkpoints").mkdir()
        for name in names:
            (folder / name).write_text("{}")
    (root / "eve.py").write_text(GOOD)
    (root / "dan.py").write_text(GOOD)
    found = {entry.student: entry for entry in discover(root)}
    assert list(found) == ["amy", "ben", "cy", "dan", "eve"]
    assert found["amy"].relative == "amy/transformer/transformer.ipynb" and not found["amy"].problems
    assert found["ben"].relative == "ben/transformer/transformer.ipynb" and "several files" in found["ben"].problems[0]
    assert found["cy"].path is None
    assert found["dan"].relative == "dan/transformer/notes.ipynb" and "dan.py" in found["dan"].problems[0]
    assert found["eve"].relative == "eve.py"
    (root / "amy" / "other").mkdir()
    with pytest.raises(ValueError, match="several assignments"):
        discover(root)
    assert [entry.student for entry in discover(root, assignment="transformer")] == ["amy", "ben", "cy", "dan", "eve"]


def test_cli_grade_all(tmp_path, capsys):
    from autograder.__main__ import main

    folder = tmp_path / "submitted"
    folder.mkdir()
    (folder / "zoe.py").write_text(GOOD)
    out = folder / "results"  # an output folder inside the submissions is not taken for a student's
    command = ["grade-all", str(folder), "--out", str(out), "--jobs", "1", "--parts", "part-a", "-q"]
    assert main(command) == 0
    assert "1 graded now" in capsys.readouterr().out
    assert (out / "zoe" / "results.json").exists()
    assert (out / "summary.txt").read_text().startswith("Students: 1")
    assert main(command) == 0
    assert "0 graded now, 1 unchanged and skipped" in capsys.readouterr().out


def test_dask_cluster_gives_the_same_results(serial, tmp_path):
    """Dask workers are daemonic, so there each task starts a fresh interpreter: same results.json."""
    distributed = pytest.importorskip("dask.distributed")
    folder, first = serial
    subset = tmp_path / "submitted"
    subset.mkdir()
    students = ["alice", "bob", "erin"]  # right, wrong, and a grading process that dies
    for student in students:
        shutil.copy(folder / f"{student}.py", subset)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = grade_all(subset, tmp_path / "dask", scheduler=cluster.scheduler_address, parts=PARTS, grader=FAULTY,
                           progress=False)
    assert [row.student for row in result.rows] == students
    for student in students:
        assert (result.out / student / "results.json").read_text() == (first.out / student / "results.json").read_text()
    lines = (first.out / "grades.csv").read_text().splitlines()
    assert (result.out / "grades.csv").read_text().splitlines() == [lines[0], lines[1], lines[2], lines[5]]


def libraries_loaded(path, *, limits=None, parts=None, concurrent=False):
    """A grader that reports which of the parts' reference libraries its process had before it was called."""
    from autograder.assignment.parts import PARTS

    wanted = sorted({name for part in PARTS for name in part.grader_imports})
    return GradeReport(submission=",".join(name for name in wanted if name in sys.modules), digest="0",
                       engine_version=ENGINE_VERSION)


def test_a_forked_grading_process_finds_the_reference_libraries_imported() -> None:
    from autograder.assignment.parts import PARTS

    task = Task(student="s", filename="s.py", content=b"", grader=f"{__name__}:libraries_loaded")
    outcome = run_isolated(task, timeout=120, how="fork")
    wanted = sorted({name for part in PARTS for name in part.grader_imports})
    assert outcome.report_json is not None, outcome.failure
    assert json.loads(outcome.report_json)["extra_data"]["submission"] == ",".join(wanted)
