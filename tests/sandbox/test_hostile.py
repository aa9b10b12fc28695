"""Hostile and broken submissions: nothing gained, nothing lost, everyone else graded (issue 8).

Each hostile submission in ``tests/submissions/hostile/`` is the correct Part A of ``honest.py`` (or a
deliberately wrong one) plus one attack, and its docstring says what it must get: exactly the points
its code earns without the attack, a flag or a recorded incident that says what happened, and no
change to anybody else's grade.  Notebooks with broken structure are built below.

How this file spends its time (about 2 cores): the whole suite is graded once, as a batch
(``autograder.batch.grade_all``, two grading processes) next to honest submissions, with the engine's
grading wrapped so that the report also carries what the sandbox's monitor noted (the incidents,
which the engine also turns into flags); the per-submission expectations are checked on those rows.
An honest submission graded alone in this process must get what it gets in the batch, and one
submission is graded twice more here, two at a time (which also shows that concurrent workers in one
process leave each other alone), for five identical gradings.  Limits are small and the same
everywhere (5 s per call, 45 s to load, 1.5 GB of memory, 256 MB of disk), so gradings compare.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import numpy as np
import psutil
import pytest

from autograder.assignment.parts import PARTS_BY_TAG
from autograder.assignment.submission import load_submission
from autograder.grading.engine import grade_submission
from autograder.grading.report import GradeReport
from autograder.sandbox import proctree, protocol, readable, shared
from autograder.sandbox.handle import WorkerHandle
from autograder.sandbox.limits import Limits
from autograder.sandbox.program import LoadReport

PARTS = ["part-a"]
LIMITS = Limits(call_seconds=5, load_seconds=45, memory_bytes=3 * 2**29, disk_bytes=256 * 2**20, disk_files=2000)
SPAWN = dataclasses.replace(LIMITS, spawn=True, processes=64, call_seconds=20)
HOSTILE = Path(__file__).resolve().parents[1] / "submissions" / "hostile"
DAEMON_MARKER = Path("/tmp/autograder-hostile-daemon-escaped")
HONEST = (HOSTILE / "honest.py").read_text()
# what the static scan of each hostile file must flag (kept with the scan's own fixtures)
SCANNED = json.loads((HOSTILE.parent / "tampering" / "expected.json").read_text())["_hostile"]


# --------------------------------------------------------------------------- what each must get

@dataclasses.dataclass(frozen=True)
class Expect:
    """``sdpa``/``mha``: "pass" (every check of that group passes), "fail" (none does) or "some" (not all do)."""

    sdpa: str
    mha: str
    flags: tuple[str, ...] = ()       # each pattern matches some flag; no pattern: no flag at all
    outputs: str | None = None        # matches the output of every failed check
    incidents: tuple[str, ...] = ()   # each pattern matches something the sandbox's monitor noted
    notes: str | None = None          # matches some note (load errors)
    tolerated: str | None = None      # flags matching this are neither required nor refused


EXPECTED: dict[str, Expect] = {
    "honest": Expect("pass", "pass"),
    "loop_top_level": Expect("pass", "pass", (r"part-a: loop_top_level.py, line 15 ran longer than 10 s while loading",
                                              r"part-a: loop_top_level.py, line 17 ran longer than 10 s while loading",
                                              r"part-a: loop_top_level.py, line 18 ended the process running your code",
                                              r"part-a: your code raised SystemExit while loading"),
                             incidents=(r"line 15 ran longer than 10 s", r"line 17 ran longer than 10 s",
                                        "your code raised SystemExit while loading")),
    "loop_in_class_body": Expect("pass", "fail", (r"part-a: loop_in_class_body.py, line 19 ran longer than 10 s while "
                                                  r"loading and was stopped",),
                                 outputs="`MultiHeadAttention` is not defined", incidents=(r"line 19 ran longer than 10 s",)),
    "loop_in_forward": Expect("pass", "fail", ("part-a: time limit of 5 s exceeded while running mha",),
                              outputs="time limit of 5 s exceeded while running mha"),
    "sleep_in_init": Expect("pass", "fail", ("part-a: time limit of 5 s exceeded while running mha",),
                            outputs="time limit of 5 s exceeded while running mha"),
    "os_exit": Expect("pass", "fail", (r"part-a: the process running your code died while running mha "
                                       r"\(exit code 3: os._exit",), outputs="exit code 3"),
    "system_exit": Expect("pass", "fail", outputs="SystemExit: bye",
                          incidents=("your code raised SystemExit", "your code raised KeyboardInterrupt while loading"),
                          notes="KeyboardInterrupt"),
    "segfault": Expect("pass", "fail", (r"part-a: the process running your code died while running mha "
                                        r"\(SIGSEGV, segmentation fault\)",),
                       outputs="SIGSEGV", incidents=(r"your code used ctypes \(ctypes\.string_at\)",)),
    "kills_parent": Expect("pass", "pass", incidents=("tried to send SIGKILL to the grader",
                                                      "tried to send SIGKILL to another process group",
                                                      "tried to send SIGKILL to every process",
                                                      "tried to change the limits of another process")),
    "kills_group": Expect("pass", "fail", (r"part-a: the process running your code died while running mha \(SIGKILL",),
                          outputs="SIGKILL", incidents=("tried to send SIGKILL to its own process group",)),
    "memory_bomb": Expect("pass", "fail", outputs="MemoryError",
                          incidents=(r"ran out of memory \(the limit is 1.5 GB",)),
    "disk_bomb": Expect("pass", "fail", ("part-a: your code wrote more than 256 MB to disk while running mha",),
                        outputs="wrote more than 256 MB to disk"),
    "stdout_flood": Expect("pass", "pass", incidents=("printed more output than is kept",)),
    "daemon": Expect("pass", "pass", incidents=(r"tried to start a process \(subprocess.Popen",
                                                r"tried to start a process \(os.fork")),
    "memory_bomb_processes": Expect("pass", "fail", outputs="PermissionError",
                                    incidents=(r"tried to start a process \(os.fork",)),
    "reads_secrets": Expect("pass", "pass", notes="PermissionError", incidents=(
        r"imported autograder", r"tried to read .*/autograder/reference\.py", r"tried to read .*/gradebook\.db",
        r"tried to read .*/source/transformer/transformer\.ipynb", r"tried to read /proc/<the grader>/environ",
        r"tried to write .*/autograder/reference\.py", r"tried to list <temporary directory>",
        r"tried to change the permissions of .*README\.md")),
    # exactly which sdpa checks its mistake costs: test_monkeypatching_gains_nothing
    "monkeypatch_wrong": Expect("some", "pass", notes="PermissionError", incidents=(
        r"replaced .*numpy\.allclose.*torch\.Tensor\.__eq__.*torch\.allclose", "imported hypothesis",
        "imported autograder")),
    "monkeypatch_nbgrader": Expect("pass", "pass", incidents=("imported nbgrader",)),
    "fake_tensors": Expect("fail", "pass"),
    # what the checks make of garbage is theirs to say (today: an internal error flag on one check)
    "patches_probes": Expect("fail", "pass", incidents=(r"replaced autograder\.probes\.PROBES\.sdpa",),
                             tolerated="internal grader error"),
    "silences_incidents": Expect("pass", "pass", (r"tampering: your code closed or replaced the grader's incident channel",),
                                 incidents=(r"closed or replaced the grader's incident channel "
                                            r"\(descriptor \d+ is now /dev/null",)),
    "protocol_forgery": Expect("pass", "fail", ("part-a: the process running your code broke the grader's protocol "
                                                "while running mha",), outputs="broke the grader's protocol"),
    # notebooks (built below)
    "nb_honest": Expect("pass", "pass"),
    "nb_not_json": Expect("pass", "fail", ("the notebook is not valid JSON", "graded cell 'mha' is missing")),
    "nb_empty": Expect("fail", "fail", ("the notebook is not valid JSON", "the notebook has no cells",
                                        "graded cell 'sdpa' is missing", "graded cell 'mha' is missing"),
                       outputs="no code found"),
    "nb_deleted_cell": Expect("pass", "fail", ("graded cell 'mha' is missing",),
                              outputs="`MultiHeadAttention` is not defined"),
    # a pasted copy of the sdpa cell holding the stub, below the answer: it runs last, as in Jupyter
    "nb_duplicated_cell": Expect("fail", "pass", ("graded cell 'sdpa' appears more than once",),
                                 outputs="NotImplementedError"),
    "nb_renamed_cell": Expect("pass", "pass", ("graded cell 'mha' is missing", "graded from other cells")),
    "nb_locked_cells_edited": Expect("fail", "fail", outputs="NotImplementedError"),
    "nb_huge_outputs": Expect("pass", "pass"),
    "nb_other_kernel": Expect("pass", "pass"),
}
KNOWN_BUGS: dict[str, str] = {}  # elsewhere than the sandbox; strict xfail: fixed ones fail, to be moved back
AGAIN = "system_exit"  # graded five times: three times in the batch, twice here
INCIDENTS = "_incidents"  # where the wrapped grading keeps the monitor's incidents, in the report's notes


# --------------------------------------------------------------------------- notebooks

SDPA_SOURCE, MHA_SOURCE = HONEST.split("\n\n\nclass MultiHeadAttention", 1)
SDPA_SOURCE = SDPA_SOURCE.split('"""', 2)[2].strip() + "\n"
MHA_SOURCE = "class MultiHeadAttention" + MHA_SOURCE
SETUP_SOURCE = "import math\nimport numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
STUB = "raise NotImplementedError()\n"


def _cell(grade_id: str | None, source: str, *, solution: bool = False, points: int = 0, kind: str = "code"):
    cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
    if grade_id:
        cell.metadata["nbgrader"] = {"grade": bool(points), "grade_id": grade_id, "locked": not solution,
                                     "schema_version": 3, "solution": solution, "task": False}
        if points:
            cell.metadata["nbgrader"]["points"] = points
    return cell


def _notebook(sdpa: str = SDPA_SOURCE, mha: str = MHA_SOURCE, **changes) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    notebook.metadata["language_info"] = {"name": "python"}
    notebook.cells = [_cell(None, "# Attention from scratch", kind="markdown"),
                      _cell("setup", changes.get("setup", SETUP_SOURCE)),
                      _cell("sdpa", sdpa, solution=True),
                      _cell("test_sdpa", changes.get("test", 'run_hidden_checks("test_sdpa", globals())'), points=15),
                      _cell("mha", mha, solution=True),
                      _cell("test_mha", changes.get("test", 'run_hidden_checks("test_mha", globals())'), points=15)]
    return notebook


def build_notebooks(folder: Path) -> None:
    honest = _notebook()
    text = nbformat.writes(honest)
    files = {"nb_honest": text, "nb_empty": ""}
    files["nb_not_json"] = text[:text.index("class MultiHeadAttention") + 40]  # cut inside the mha cell

    deleted = _notebook()
    del deleted.cells[4]
    files["nb_deleted_cell"] = nbformat.writes(deleted)

    duplicated = _notebook()
    duplicated.cells.insert(3, _cell("sdpa", "def scaled_dot_product_attention(Q, K, V, mask=None):\n    " + STUB,
                                     solution=True))
    files["nb_duplicated_cell"] = nbformat.writes(duplicated)

    renamed = _notebook()
    renamed.cells[4].metadata["nbgrader"]["grade_id"] = "my_mha"
    files["nb_renamed_cell"] = nbformat.writes(renamed)

    edited = _notebook(sdpa="def scaled_dot_product_attention(Q, K, V, mask=None):\n    " + STUB,
                       mha="class MultiHeadAttention(nn.Module):\n    def __init__(self, embed_dim, num_heads):\n"
                           "        " + STUB,
                       setup=SETUP_SOURCE + "torch.allclose = lambda *args, **kwargs: True\n"
                                            "def run_hidden_checks(*args, **kwargs):\n    return 15.0\n",
                       test="grade = 15  # the hidden test, replaced")
    files["nb_locked_cells_edited"] = nbformat.writes(edited)

    huge = _notebook()
    for cell in huge.cells[1:]:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 2**20 + "\n") for _ in range(6)]
        cell.execution_count = 1
    files["nb_huge_outputs"] = nbformat.writes(huge)

    other = _notebook()
    other.metadata["kernelspec"] = {"display_name": "R", "language": "R", "name": "ir"}
    other.metadata["language_info"] = {"name": "R"}
    files["nb_other_kernel"] = nbformat.writes(other)
    for name, content in files.items():
        (folder / f"{name}.ipynb").write_text(content)


# --------------------------------------------------------------------------- grading

def grade_recording_incidents(path, *, limits=None, parts=None, concurrent=False) -> GradeReport:
    """The engine's grading, plus what the sandbox's monitor noted in every worker, under INCIDENTS in
    the report's notes (a grader for ``grade_all``: it runs in the batch's grading processes)."""
    workers: list[WorkerHandle] = []
    original = WorkerHandle.start

    def start(self: WorkerHandle) -> LoadReport:
        workers.append(self)
        return original(self)

    WorkerHandle.start = start
    try:
        report = grade_submission(path, limits=limits, parts=parts, concurrent=concurrent)
    finally:
        WorkerHandle.start = original
    report.notes[INCIDENTS] = list(dict.fromkeys(incident for w in workers for incident in w.incidents))
    return report


def incidents_of(report: GradeReport) -> list[str]:
    return report.notes.get(INCIDENTS, [])


def grade(path: Path, limits: Limits = LIMITS) -> GradeReport:
    """Part A of one file, graded in this process."""
    return grade_recording_incidents(path, limits=limits, parts=PARTS)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The whole suite in one flat folder (student = file stem), with honest copies under other names,
    the monkeypatching submission without its attack, and the submission graded five times, thrice."""
    root = tmp_path_factory.mktemp("hostile") / "submitted"
    root.mkdir()
    for path in sorted(HOSTILE.glob("*.py")):
        shutil.copy(path, root / path.name)
    shutil.copy(HOSTILE / "honest.py", root / "alice.py")
    for copy in ("again_1", "again_2"):
        shutil.copy(HOSTILE / f"{AGAIN}.py", root / f"{AGAIN}_{copy}.py")
    twin = (HOSTILE / "monkeypatch_wrong.py").read_text()
    start, end = twin.index("# --- the attack"), twin.index("# --- end of the attack")
    (root / "monkeypatch_wrong_without_attack.py").write_text(twin[:start] + twin[end:])
    build_notebooks(root)
    return root


@pytest.fixture(scope="module")
def batch(folder, tmp_path_factory) -> dict:
    from autograder.batch.run import grade_all

    if DAEMON_MARKER.exists():
        DAEMON_MARKER.unlink()
    result = grade_all(folder, tmp_path_factory.mktemp("hostile-out"), jobs=2, parts=PARTS, limits=LIMITS,
                       grader=f"{grade_recording_incidents.__module__}:grade_recording_incidents", progress=False)
    return {row.student: row for row in result.rows}


def summary(report: GradeReport) -> dict:
    """What a report decided, without the file's name: per-check score and output, flags, notes."""
    decided = {"results": [(r.name, r.part, r.test_cell, r.score, r.max_score, r.output) for r in report.results],
               "flags": report.flags, "notes": {k: v for k, v in report.notes.items() if k != INCIDENTS}}
    return json.loads(json.dumps(decided).replace(Path(report.submission).stem, "<submission>"))


def groups(report: GradeReport) -> dict[str, list]:
    found = {"sdpa": [r for r in report.results if r.name.startswith("sdpa")],
             "mha": [r for r in report.results if r.name.startswith("mha")]}
    assert found["sdpa"] and found["mha"], [r.name for r in report.results]
    assert len(found["sdpa"]) + len(found["mha"]) == len(report.results)
    return found


def check_expectations(name: str, report: GradeReport) -> None:
    expect = EXPECTED[name]
    for group, results in groups(report).items():
        wanted = getattr(expect, group)
        passed = [r.name for r in results if r.passed]
        if wanted == "pass":
            assert len(passed) == len(results), f"{name}: {group} checks failed: " + "\n".join(
                f"{r.name}: {r.output[:300]}" for r in results if not r.passed)
        elif wanted == "fail":
            assert not passed, f"{name}: {group} checks passed: {passed}"
        else:
            assert len(passed) < len(results), f"{name}: every {group} check passed"
    for result in report.results:
        tolerated = expect.tolerated and re.search(expect.tolerated, result.output)
        if not result.passed and expect.outputs and not tolerated:
            assert re.search(expect.outputs, result.output), (name, result.name, result.output[:500])
    for pattern in expect.flags:
        assert any(re.search(pattern, flag) for flag in report.flags), (name, pattern, report.flags)
    allowed = list(expect.flags) + ([expect.tolerated] if expect.tolerated else [])
    noted = {f"part-a: {incident}" for incident in incidents_of(report)}
    scanned = SCANNED.get(f"{name}.py", {}).get("flags", [])
    assert all(flag in report.flags for flag in scanned), (name, scanned, report.flags)
    unexpected = [flag for flag in report.flags if flag not in noted and flag not in scanned
                  and not any(re.search(pattern, flag) for pattern in allowed)]
    assert unexpected == [], (name, unexpected)
    if expect.notes:
        notes = [note for key, part_notes in report.notes.items() if key != INCIDENTS for note in part_notes]
        assert any(re.search(expect.notes, note) for note in notes), (name, notes)


# --------------------------------------------------------------------------- the suite, as a batch

@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_BUGS[name], strict=True))
                                  if name in KNOWN_BUGS else name for name in sorted(EXPECTED)])
def test_hostile_submission_gets_what_its_code_earns(name, batch):
    row = batch[name]
    assert row.status == "graded", row.report.flags
    check_expectations(name, row.report)
    incidents = incidents_of(row.report)
    for pattern in EXPECTED[name].incidents:
        assert any(re.search(pattern, incident) for incident in incidents), (name, pattern, incidents)
    if not EXPECTED[name].incidents:
        assert incidents == [], (name, incidents)
    for incident in incidents:  # every incident reaches the grader as a flag
        assert f"part-a: {incident}" in row.report.flags, (incident, row.report.flags)


@pytest.mark.parametrize("name", sorted(path.stem for path in HOSTILE.glob("*.py")))
def test_hostile_submission_scores_and_flags_as_in_expected_json(name, batch, expected_verdicts):
    """Each check's points and the flags, as recorded in tests/submissions/hostile/expected.json."""
    expected = expected_verdicts("hostile")[f"{name}.py"]
    report = batch[name].report
    assert {r.name: r.score for r in report.results} == expected["checks"], report.flags
    for text in expected["flags"]:
        assert any(text in flag for flag in report.flags), (text, report.flags)
    scanned = SCANNED.get(f"{name}.py", {}).get("flags", [])
    assert all(flag in report.flags for flag in scanned), (scanned, report.flags)
    if not expected["flags"]:
        assert [flag for flag in report.flags if flag not in scanned] == [], report.flags


def test_honest_submissions_in_the_batch_get_what_they_get_alone(batch):
    alone = grade_submission(HOSTILE / "honest.py", limits=LIMITS, parts=PARTS)
    assert alone.flags == [] and alone.score == alone.max_score
    for student in ("honest", "alice"):
        assert summary(batch[student].report) == summary(alone)
    notebook = summary(batch["nb_honest"].report)
    assert [r[:5] for r in notebook["results"]] == [r[:5] for r in summary(alone)["results"]]
    assert {row.status for row in batch.values()} == {"graded"}


def test_monkeypatching_gains_nothing(batch):
    """Per check, the same points and the same messages as the same code without its monkeypatching."""
    patched, plain = batch["monkeypatch_wrong"].report, batch["monkeypatch_wrong_without_attack"].report
    def verdicts(report: GradeReport) -> list[tuple]:
        return [(r.name, r.score, r.output) for r in report.results]
    assert verdicts(patched) == verdicts(plain)
    assert 0 < patched.score < patched.max_score
    assert incidents_of(plain) == [] or all("replaced" not in incident for incident in incidents_of(plain))


def test_the_same_submission_graded_five_times_gets_identical_results(batch):
    """Three gradings in the batch, two more here at the same time."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        here = list(pool.map(lambda _: grade(HOSTILE / f"{AGAIN}.py"), range(2)))
    reports = [batch[name].report for name in (AGAIN, f"{AGAIN}_again_1", f"{AGAIN}_again_2")] + here
    assert len({json.dumps(summary(report), sort_keys=True) for report in reports}) == 1
    assert len({tuple(incidents_of(report)) for report in reports}) == 1
    assert incidents_of(reports[0])


def test_instructor_files_are_untouched(batch, folder):
    root = Path(shared.PROJECT_ROOT)
    assert not (root / "source" / "injected.py").exists() and not (root / "source" / "injected2.py").exists()
    assert not Path("/tmp/autograder-hostile-written").exists()
    assert not DAEMON_MARKER.exists()
    assert (folder / "honest.py").read_text() == HONEST


# --------------------------------------------------------------------------- processes that try to outlive grading

def _sandboxed_descendants() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if proctree._sandboxed(child.pid) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.Error:
            pass
    return found


def _daemon_survivors() -> list[str]:
    survivors = []
    for process in psutil.process_iter(["cmdline"]):
        if "autograder-hostile-daemon" in " ".join(process.info["cmdline"] or []):
            survivors.append(f"{process.pid}: {process.info['cmdline']}")
    return survivors


def test_daemons_die_with_the_worker_when_processes_are_allowed():
    if DAEMON_MARKER.exists():
        DAEMON_MARKER.unlink()
    report = grade(HOSTILE / "daemon.py", SPAWN)
    check_expectations("daemon", report)
    assert not any("start a process" in incident for incident in incidents_of(report))  # allowed here
    # while the worker lives, so do its daemons: their writes outside are refused (and noted)
    assert all("tried to write <temporary directory>/autograder-hostile-daemon-escaped" in incident
               for incident in incidents_of(report)), incidents_of(report)
    assert _daemon_survivors() == [] and _sandboxed_descendants() == []
    time.sleep(4.5)  # past the daemons' sleep: had one survived, it would have tried its write now
    assert not DAEMON_MARKER.exists() and _daemon_survivors() == []


def _grade_in_pool(path: str) -> tuple[tuple[float, float], list[str]]:
    report = grade_submission(path, limits=SPAWN, parts=PARTS)
    return (report.score, report.max_score), [str(p.pid) for p in _sandboxed_descendants()]


def test_daemons_die_with_the_worker_when_graded_from_a_process_pool():
    context = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        (score, out_of), alive_in_pool = pool.submit(_grade_in_pool, str(HOSTILE / "daemon.py")).result()
        assert alive_in_pool == [] and _daemon_survivors() == [] and _sandboxed_descendants() == []
    assert score == out_of


def test_memory_spread_over_processes_is_stopped_when_processes_are_allowed():
    report = grade(HOSTILE / "memory_bomb_processes.py", SPAWN)
    assert all(r.passed for r in groups(report)["sdpa"])
    assert not any(r.passed for r in groups(report)["mha"])
    assert report.flags == SCANNED["memory_bomb_processes.py"]["flags"] + [
        "part-a: your code used more than 1.5 GB of memory (all its processes together) while running mha"], report.flags
    assert _sandboxed_descendants() == []


# --------------------------------------------------------------------------- answers out of reach in other parts

REFERENCE_LEAK = '''
from autograder.assignment.reference import make_attention_hook, register_attention_hook
from autograder.assignment.reference import PostLNEncoderLayer as FixedTransformerEncoderLayer
make_attention_hook = MultiHeadAttention.forward.__globals__["make_attention_hook"]
FixedTransformerEncoderLayer = scaled_dot_product_attention.__globals__["PostLNEncoderLayer"]
'''


def test_part_b_workers_hold_our_attention_but_not_the_model_answers(tmp_path):
    path = tmp_path / "leak.py"
    path.write_text(REFERENCE_LEAK)
    program, _ = PARTS_BY_TAG["part-b-fix"].program(load_submission(path))
    leak = WorkerHandle(program, LIMITS)
    try:
        loaded = leak.start()
        assert len(loaded.load_errors) == 4, loaded.load_errors
        assert all(re.search(r"PermissionError|KeyError", error) for error in loaded.load_errors), loaded.load_errors
        assert any("imported autograder" in incident for incident in leak.incidents), leak.incidents
    finally:
        leak.close()


TORCH_REBINDS_MANUAL_SEED = """
import functools, sys
import torch
from autograder.sandbox.child.monitor import _same_or_torch_wrapped
original = torch.manual_seed
import torch._dynamo  # what the first optimizer step does
print(_same_or_torch_wrapped("torch", "manual_seed", torch.manual_seed, original))
print(_same_or_torch_wrapped("torch", "manual_seed", functools.wraps(original)(lambda seed: None), original))
print(_same_or_torch_wrapped("torch", "allclose", functools.wraps(torch.allclose)(lambda *a: True), torch.allclose))
"""


def test_torch_rebinding_its_own_manual_seed_is_not_the_student_replacing_it():
    """An honest Part B fix trains with Adam, whose first step imports torch._dynamo."""
    out = subprocess.run([sys.executable, "-c", TORCH_REBINDS_MANUAL_SEED], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2]).stdout.split()
    assert out == ["True", "False", "False"]


# --------------------------------------------------------------------------- the channel and the sandbox's parts

def _message(payload: bytes) -> int:
    read, write = os.pipe()

    def feed() -> None:
        try:
            os.write(write, protocol._HEADER.pack(len(payload)) + payload)
        except OSError:
            pass
        finally:
            os.close(write)

    threading.Thread(target=feed, daemon=True).start()
    return read


@pytest.mark.parametrize("payload, error", [
    (b"[" * 100_000, "not valid JSON"),
    (b'{"a": ' + b"[" * 200 + b"]" * 200 + b"}", "nested"),
    (b'{"a": 1' + b"0" * 10_000 + b"}", "not valid JSON"),
    (b'{"a": {"__ndarray__": {"dtype": "float32", "shape": [2], "data": "!!"}}}', "not base64"),
    (b'{"a": {"__ndarray__": {"dtype": "float32", "shape": [1000000], "data": "AAAAAA=="}}}', "does not match"),
    (b'{"a": {"__ndarray__": {"dtype": "object", "shape": [1], "data": ""}}}', "refused"),
    (b'{"a": {"__ndarray__": {"dtype": "float32", "shape": [-1], "data": ""}}}', "refused"),
    (b'{"a": {"__ndarray__": {"dtype": "float32", "shape": "x", "data": ""}}}', "malformed"),
    (b"[1, 2]", "not an object"),
    (b"\xff\xfe", "not valid JSON"),
])
def test_malformed_messages_are_protocol_errors(payload, error):
    fd = _message(payload)
    try:
        with pytest.raises(protocol.ProtocolError, match=error):
            protocol.receive(fd, timeout=5)
    finally:
        os.close(fd)


def test_oversized_and_stalled_channels():
    read, write = os.pipe()
    os.write(write, protocol._HEADER.pack(2**62))
    with pytest.raises(protocol.ProtocolError, match="over the"):
        protocol.receive(read, timeout=5)
    os.close(write)
    os.close(read)
    read, write = os.pipe()  # a reader that never reads: sending must give up, not block the grader
    os.set_blocking(write, False)
    with pytest.raises(protocol.ChannelTimeout):
        protocol.send(write, {"x": np.zeros(2**20)}, timeout=0.5)
    os.close(write)
    os.close(read)


def test_the_grader_and_course_are_not_readable(tmp_path):
    roots = readable.worker_readable_roots()
    for hidden in (Path(shared.PACKAGE_DIR), Path(shared.PROJECT_ROOT), Path.cwd()):
        assert not [root for root in roots if readable.is_within(str(hidden), root)], hidden
    assert "/etc" not in roots and "/etc/passwd" in roots
    # a grader installed inside a readable directory (site-packages) is carved out of it
    site = tmp_path / "site-packages"
    for name in ("autograder", "torch", "numpy"):
        (site / name).mkdir(parents=True)
    (site / "alias").symlink_to(site / "autograder")
    assert readable._carve(str(site), {str(site / "autograder")}) == [str(site / "numpy"), str(site / "torch")]
