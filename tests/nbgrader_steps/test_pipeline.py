"""Stock nbgrader with our config records the engine's verdicts, flags what went wrong, never aborts.

End to end in a temporary course: ``nbgrader generate_assignment``, ``autograde`` (two processes
at once on one SQLite gradebook), ``generate_feedback`` and ``export`` on a correct, a partly
wrong, a cheating, a grader-attacking and kernel-killing, a hanging and a not-JSON submission.  To stay within a
couple of minutes the course is the real notebook cut down to Task 0 and Part A, graded with
``--TrustedVerdicts.parts=part-a``; one slow test runs the whole real course on one submission.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader_course import (
    ASSIGNMENT,
    CHEAT,
    HANG,
    HANG_TIMEOUT,
    KILL_KERNEL,
    LEFTOVER,
    NO_SCALING,
    ROOT,
    SOURCE,
    autograde,
    autograded_points,
    db_url_of,
    expected_scores,
    grade_id,
    gradebook_flags,
    gradebook_scores,
    make_course,
    nbgrader,
    solved,
    submit,
    tamper_cell,
    truncated_in_mha,
)

from autograder.checks import ALL_CHECKS
from autograder.nbgrader_steps.confinedkernel import ConfinedKernelManager
from autograder.nbgrader_steps.flags import flags
from autograder.nbgrader_steps.tolerantexecute import TolerantExecute

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "submissions" / "notebooks"))
import make_notebooks as styles  # noqa: E402, I001

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    course = make_course(tmp_path_factory.mktemp("course"))
    submissions = {  # frank first: his run is the longest
        "frank": solved(course, append={"mha": HANG}),                # hangs, ignoring interrupts
        "alice": solved(course),                                      # correct
        "bob": solved(course, replace=NO_SCALING),                    # partly wrong
        "eve": solved(course, replace=NO_SCALING, append={"sdpa": CHEAT}),  # bob's code, and cheats
        "carol": solved(course, append={"sdpa": tamper_cell(course), "mha": KILL_KERNEL}),  # attacks, kills its kernel
        "dave": truncated_in_mha(solved(course)),                     # not JSON
        "grace": styled(course, styles.helper_in_added_cell, styles.constants_made_by_calls),  # as students write
        "hank": styled(course, styles.dataclass_config, styles.future_annotations_and_type_hints),
    }
    paths = {student: submit(course, student, notebook) for student, notebook in submissions.items()}
    runs = autograde(course, list(submissions))
    return {"course": course, "paths": paths, "runs": runs, "db_url": db_url_of(course),
            "points": autograded_points(course)}


# Whose code each submission's definitions are (the engine ignores top-level statements that call
# something, like os._exit); the engine is run once per distinct code, on the submitted file.
SAME_CODE_AS = {"alice": "alice", "carol": "alice", "frank": "alice", "bob": "bob", "eve": "bob", "dave": "dave",
                "grace": "grace", "hank": "hank"}


@pytest.fixture(scope="module")
def engine_scores(graded: dict) -> dict[str, dict[str, float]]:
    return {student: expected_scores(graded["paths"][student], graded["points"])
            for student in set(SAME_CODE_AS.values())}


def test_autograde_never_aborts(graded: dict) -> None:
    for student, run in graded["runs"].items():
        assert run.returncode == 0, f"{student}: nbgrader autograde failed:\n{run.stderr[-4000:]}"


def test_every_grade_reaches_the_gradebook_with_two_processes_at_once(graded: dict) -> None:
    for student in graded["paths"]:
        scores = gradebook_scores(graded["db_url"], student)
        missing = [cell for cell in graded["points"] if scores.get(cell) is None]
        assert not missing, f"{student}: no autograde score for {missing}"


@pytest.mark.parametrize("student", sorted(SAME_CODE_AS))
def test_gradebook_holds_the_engines_scores(graded: dict, engine_scores: dict, student: str) -> None:
    """What its code earns, whatever the kernel did: cheated (eve), died (carol), hung (frank)."""
    scores = gradebook_scores(graded["db_url"], student)
    expected = engine_scores[SAME_CODE_AS[student]]
    assert {cell: scores[cell] for cell in expected} == pytest.approx(expected, abs=1e-9)


def styled(course: Path, *changes) -> nbformat.NotebookNode:
    """The solved notebook changed as students change notebooks (tests/submissions/notebooks/make_notebooks.py)."""
    notebook = solved(course)
    for change in changes:
        change(notebook)
    return notebook


@pytest.mark.parametrize("student", ["alice", "bob", "grace", "hank"])
def test_gradebook_scores_are_what_the_expected_verdicts_give(graded: dict, student: str) -> None:
    """Each test cell holds its checks' points less those of the checks the student is expected to fail."""
    failing = set(json.loads((Path(__file__).parent / "expected.json").read_text())[student]["failing"])
    expected = {cell: float(sum(check.points for check in ALL_CHECKS
                                if check.test_cell == cell and check.name not in failing))
                for cell in graded["points"]}
    scores = gradebook_scores(graded["db_url"], student)
    assert {cell: scores[cell] for cell in expected} == pytest.approx(expected, abs=1e-9)


def test_cheating_earns_only_what_the_code_earns(graded: dict) -> None:
    eve, bob = (gradebook_scores(graded["db_url"], s) for s in ("eve", "bob"))
    assert eve == bob
    autograded = nbformat.read(graded["course"] / "autograded" / "eve" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                               as_version=4)
    test_sdpa = next(cell for cell in autograded.cells if grade_id(cell) == "test_sdpa")
    text = json.dumps(test_sdpa.outputs)
    assert "Visible tests passed" not in text, "the kernel's own (fooled) output must not survive"
    assert "[FAIL] sdpa_values" in text


def test_the_kernel_runs_confined(graded: dict) -> None:
    """The student's kernel cannot touch the grader, the gradebook or the course, nor reach out."""
    import landlockpy

    abi = landlockpy.abi_version()
    if abi == 0:
        pytest.skip("this Linux kernel has no Landlock: the student's kernel runs unconfined")
    autograded = nbformat.read(graded["course"] / "autograded" / "carol" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                               as_version=4)
    sdpa = next(cell for cell in autograded.cells if grade_id(cell) == "sdpa")
    printed = "".join(output.get("text", "") for output in sdpa.outputs)
    attempts = json.loads(printed.split("ATTEMPTS=", 1)[1].splitlines()[0])
    blocked = ["write into the grader's package", "open the gradebook for writing", "read the instructor's source",
               "read the reference solutions"]
    blocked += ["connect to a TCP port"] if abi >= 4 else []
    blocked += ["signal nbgrader"] if abi >= 6 else []
    assert {name: attempts[name] for name in blocked} == dict.fromkeys(blocked, "PermissionError")
    assert attempts["write in its own folder"] == "done"
    assert not (ROOT / "autograder" / "nbgrader_steps" / "kernel_was_here.txt").exists()


@pytest.mark.parametrize("student,reason", [
    ("carol", r"kernel died while running cell \d+ \(mha\)"),
    ("frank", rf"cell \d+ \(mha\) did not finish within {HANG_TIMEOUT} s"),
    ("dave", r"not valid JSON"),
])
def test_broken_submissions_are_flagged_with_the_reason(graded: dict, student: str, reason: str) -> None:
    flagged, reasons = gradebook_flags(graded["db_url"], student)
    assert flagged
    assert any(re.search(reason, text) for text in reasons), reasons


def test_nothing_the_kernel_started_outlives_autograde(graded: dict) -> None:
    import psutil

    leftovers = [process for process in psutil.process_iter(["cmdline"]) if process.info["cmdline"] == LEFTOVER]
    assert not leftovers, "carol's kernel left a process running"


def test_clean_submissions_are_not_flagged(graded: dict) -> None:
    for student in ("alice", "bob", "grace", "hank"):
        assert gradebook_flags(graded["db_url"], student) == (False, [])


def test_test_cell_lost_with_the_end_of_the_file_is_put_back(graded: dict) -> None:
    autograded = nbformat.read(graded["course"] / "autograded" / "dave" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                               as_version=4)
    ids = [grade_id(cell) for cell in autograded.cells]
    assert "test_mha" in ids and "mha" not in ids
    assert ids.index("test_mha") > ids.index("test_sdpa")


@pytest.fixture(scope="module")
def feedback_and_export(graded: dict) -> dict:
    course = graded["course"]
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with (course / "grades.csv").open(newline="") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    html = {student: (course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
            for student in graded["paths"]}
    return {"rows": rows, "html": html}


def test_feedback_has_per_check_results_with_counterexamples(feedback_and_export: dict) -> None:
    assert "[PASS] sdpa_values" in feedback_and_export["html"]["alice"]
    bob = feedback_and_export["html"]["bob"]
    assert "[FAIL] sdpa_values" in bob
    assert "expected" in bob and "Q of shape" in bob, "the failing check's counterexample"


def test_feedback_never_shows_hidden_tests(feedback_and_export: dict) -> None:
    for student, html in feedback_and_export["html"].items():
        for secret in ("BEGIN HIDDEN TESTS", "run_hidden_checks", "from autograder"):
            assert secret not in html, f"{student}'s feedback shows {secret!r}"


def test_feedback_tells_the_student_why_a_notebook_was_flagged(feedback_and_export: dict) -> None:
    assert "kernel died" in feedback_and_export["html"]["carol"]


def test_export_has_the_gradebook_scores_and_the_flags(graded: dict, feedback_and_export: dict) -> None:
    rows = feedback_and_export["rows"]
    assert set(rows) == set(graded["paths"])
    for student, row in rows.items():
        manual_and_auto = gradebook_scores(graded["db_url"], student)
        assert float(row["score"]) == pytest.approx(sum(v or 0.0 for v in manual_and_auto.values()))
        flagged, reasons = gradebook_flags(graded["db_url"], student)
        assert row["flagged"] == ("yes" if flagged else "no")
        assert row["flags"] == " | ".join(reasons)
    assert rows["dave"]["flagged"] == "yes" and "not valid JSON" in rows["dave"]["flags"]
    assert rows["alice"]["flagged"] == "no"


def _save_grades_repeatedly(db_url: str, student: str, rounds: int) -> int:
    """What SaveAutoGrades does, ``rounds`` times over: one commit per grade cell.  Returns the errors met."""
    from nbgrader.api import Gradebook

    errors = 0
    for round_ in range(rounds):
        try:
            with Gradebook(db_url) as gradebook:
                gradebook.update_or_create_student(student)
                gradebook.update_or_create_submission("stress", student)
                for cell in range(8):
                    gradebook.find_grade(f"cell{cell}", "stress", "stress", student).auto_score = float(round_)
                    gradebook.db.commit()
        except Exception:
            errors += 1
    return errors


def test_concurrent_writers_lose_no_grade_on_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four processes saving grades for different students at once, as parallel autograde runs do."""
    import multiprocessing

    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")  # alembic
    db_url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with Gradebook(db_url) as gradebook:
        gradebook.update_or_create_assignment("stress")
        gradebook.add_notebook("stress", "stress")
        for cell in range(8):
            gradebook.add_grade_cell(f"cell{cell}", "stress", "stress", max_score=1, cell_type="code")
    students = [f"student{i}" for i in range(4)]
    with multiprocessing.get_context("fork").Pool(4) as pool:
        errors = pool.starmap(_save_grades_repeatedly, [(db_url, student, 5) for student in students])
    assert errors == [0, 0, 0, 0]
    with Gradebook(db_url) as gradebook:
        for student in students:
            grades = gradebook.find_submission_notebook("stress", "stress", student).grades
            assert sorted(grade.auto_score for grade in grades) == [4.0] * 8


# --------------------------------------------------------------------------- the in-kernel front door

GOOD_SDPA = '''
def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights
'''


def _namespace(code: str) -> dict:
    namespace: dict = {}
    exec("import math, torch\nimport torch.nn.functional as F\n" + code, namespace)
    return namespace


def test_hidden_checks_run_in_process_outside_autograde(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from autograder.notebook import run_hidden_checks

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert run_hidden_checks("test_sdpa", _namespace(GOOD_SDPA)) is None  # passed: no partial-credit value
    assert "[PASS] sdpa_values" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="sdpa_values"):
        run_hidden_checks("test_sdpa", _namespace(GOOD_SDPA.replace("/ math.sqrt(Q.size(-1))", "")))
    assert "[FAIL] sdpa_values" in capsys.readouterr().out


def test_hidden_checks_only_announce_the_trusted_grader_under_autograde(monkeypatch: pytest.MonkeyPatch,
                                                                        capsys) -> None:
    from autograder.notebook import run_hidden_checks

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert run_hidden_checks("test_sdpa", {}) == 0.0
    assert "outside this notebook's kernel" in capsys.readouterr().out


def test_nbgrader_validate_shows_a_failing_hidden_check(tmp_path: Path) -> None:
    """A bug the visible tests miss (d_k hard-coded to the visible example's 2) fails the hidden checks."""
    source = nbformat.read(SOURCE, as_version=4)
    source.cells = [cell for cell in source.cells if grade_id(cell) in ("setup", "sdpa", "test_sdpa")]
    for cell in source.cells:
        if grade_id(cell) == "sdpa":
            cell.source = cell.source.replace("/ math.sqrt(d_k)", "/ math.sqrt(2)")
    nbformat.write(source, tmp_path / "wrong.ipynb")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    output = nbgrader(tmp_path, "validate", "wrong.ipynb", check=False)
    text = output.stdout + output.stderr
    assert "VALIDATION FAILED ON 1 CELL(S)" in text, text[-3000:]
    assert "hidden checks failed: sdpa_values" in text


# ------------------------------------------------------------------------------------ the whole course

def test_whole_course_one_correct_submission(tmp_path: Path) -> None:
    """The real notebook and config, every part: each autograded cell gets exactly the engine's score."""
    course = make_course(tmp_path, cells=None, parts=None)
    path = submit(course, "alice", solved(course))
    run = autograde(course, ["alice"], processes=1)["alice"]
    assert run.returncode == 0, run.stderr[-4000:]
    points = autograded_points(course)
    scores = gradebook_scores(db_url_of(course), "alice")
    expected = expected_scores(path, points, parts=None)
    assert {cell: scores[cell] for cell in points} == pytest.approx(expected, abs=1e-9)
    assert gradebook_flags(db_url_of(course), "alice") == (False, [])


class _KernelThatDiesAtStart(ConfinedKernelManager):
    """Its first ``deaths`` kernels exit before replying to kernel_info, as one that lost its ports would."""

    deaths = 0

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        if type(self).deaths > 0:
            type(self).deaths -= 1
            return [sys.executable, "-c", "raise SystemExit(1)"]
        return command


@pytest.mark.parametrize("deaths, flagged", [(0, False), (2, False), (3, True)])
def test_a_kernel_that_dies_at_start_is_started_again(tmp_path: Path, deaths: int, flagged: bool) -> None:
    _KernelThatDiesAtStart.deaths = deaths
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    execute = TolerantExecute(kernel_manager_class=_KernelThatDiesAtStart, confine_kernel=False, startup_timeout=30)
    resources: dict = {"metadata": {"path": str(tmp_path)}}
    notebook, resources = execute.preprocess(notebook, resources)
    reasons = flags(resources)
    if flagged:
        assert len(reasons) == 1 and "kernel failed outside a cell" in reasons[0], reasons
    else:
        assert reasons == [] and notebook.cells[0].outputs[0]["text"] == "42\n"
