"""The student release (release/transformer/) and the sample submissions.

- Regenerating the release from source/ with stock nbgrader gives exactly the committed release.
- The release leaks nothing: no solution, no hidden test, no model answer, no rubric, no gradebook.
- The graded cells carry the grade_ids and points of the assignment (100 in all).
- The sample submissions were made from the current release.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.grading.report import CheckResult
from autograder.grading.scoring import subtotals

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = "transformer"
SOURCE = ROOT / "source" / ASSIGNMENT / "transformer.ipynb"
RELEASE_DIR = ROOT / "release" / ASSIGNMENT
RELEASE = RELEASE_DIR / "transformer.ipynb"
SAMPLES = sorted((ROOT / "samples" / "submitted").glob(f"*/{ASSIGNMENT}/transformer.ipynb"))

# Points are declared once: an autograded cell is worth what its checks are worth (autograder.checks),
# a manual cell (a markdown answer graded by hand) what the source notebook's metadata says.
TOTAL_POINTS = 100
MANUAL = {"task0_reflection", "bug_analysis", "partd_analysis"}
STUDENT_CODE = {"sdpa", "mha", "attention_hook", "fixed_encoder", "tokenize_fn", "compute_metrics"}
PROVIDED = {"title", "task0_instructions", "setup", "parta_intro", "partb_intro", "buggy_layer", "partb_data",
            "partb_model", "partb_training", "run_buggy", "hook_intro", "run_hook", "run_fixed", "partc_intro",
            "hf_data", "hf_model", "hf_train"}

# Text that only the instructor's notebook may contain.
FORBIDDEN_IN_RELEASE = (
    "BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "run_hidden_checks",
    "autograder.notebook", "Model answer", "Rubric", "Full credit",
)
# Cell fields that nbgrader or Jupyter may rewrite without changing the assignment.
VOLATILE_CELL_FIELDS = {"outputs", "execution_count"}


def _cells_by_id(notebook) -> dict[str, nbformat.NotebookNode]:
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): cell for cell in notebook.cells}


def _comparable(notebook) -> list[dict]:
    return [{key: value for key, value in cell.items() if key not in VOLATILE_CELL_FIELDS}
            for cell in notebook.cells]


def _solution_regions(source: str) -> list[str]:
    """The text between BEGIN SOLUTION and END SOLUTION lines (what nbgrader removes)."""
    return re.findall(r"BEGIN SOLUTION[^\n]*\n(.*?)\n[^\n]*END SOLUTION", source, flags=re.S)


@pytest.fixture(scope="module")
def source():
    return nbformat.read(SOURCE, as_version=4)


@pytest.fixture(scope="module")
def release():
    return nbformat.read(RELEASE, as_version=4)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> Path:
    """The release made by `nbgrader generate_assignment` in a scratch copy of the course."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source", course / "source",
                    ignore=shutil.ignore_patterns(".hypothesis", ".ipynb_checkpoints", "__pycache__"))
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force",
         f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}"],
        cwd=course, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"nbgrader generate_assignment failed:\n{result.stdout}\n{result.stderr}"
    return course / "release" / ASSIGNMENT


# (a) the committed release is what nbgrader makes of the source

def test_committed_release_equals_a_fresh_generation(regenerated, release):
    fresh = nbformat.read(regenerated / "transformer.ipynb", as_version=4)
    assert fresh.metadata == release.metadata
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in fresh.cells] == \
           [c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells]
    for fresh_cell, committed_cell in zip(_comparable(fresh), _comparable(release)):
        assert fresh_cell == committed_cell, (
            f"release/ is stale for cell {committed_cell['metadata'].get('nbgrader', {}).get('grade_id')}: "
            f"run `nbgrader generate_assignment {ASSIGNMENT} --force` from the repository root")


def test_generation_writes_only_the_notebook(regenerated):
    assert sorted(p.name for p in regenerated.iterdir()) == ["transformer.ipynb"]


# (b) the release leaks nothing

def test_release_has_no_instructor_text(release):
    text = RELEASE.read_text(encoding="utf-8")
    for phrase in FORBIDDEN_IN_RELEASE:
        assert phrase not in text, f"the release contains {phrase!r}"


def test_release_has_no_line_of_any_solution_or_rubric(source):
    """No line of a solution region reaches the release, unless the notebook also gives it to
    students elsewhere (the buggy layer's constructor, for instance)."""
    def lines(text: str) -> set[str]:
        return {line.strip() for line in text.splitlines() if len(line.strip()) >= 20}

    solution_lines, provided_lines = set(), set()
    for cell in source.cells:
        regions = _solution_regions(cell.source)
        solution_lines |= set().union(*map(lines, regions)) if regions else set()
        outside = re.sub(r"BEGIN SOLUTION.*?END SOLUTION", "", cell.source, flags=re.S)
        provided_lines |= lines(outside)
    release_lines = set().union(*(lines(cell.source) for cell in nbformat.read(RELEASE, as_version=4).cells))
    leaked = sorted((solution_lines - provided_lines) & release_lines)
    assert not leaked, "solution lines found in the release:\n" + "\n".join(leaked)


def test_model_answers_are_not_in_the_release(source):
    release_text = " ".join(RELEASE.read_text(encoding="utf-8").split())
    for grade_id in MANUAL:
        answer = " ".join(_cells_by_id(source)[grade_id].source.split())
        for sentence in re.split(r"(?<=[.!?])\s+", answer):
            if len(sentence) >= 40:
                assert sentence not in release_text, f"model answer of {grade_id} leaked: {sentence!r}"


def test_release_answer_cells_are_stubs(release):
    cells = _cells_by_id(release)
    for grade_id in MANUAL:
        assert cells[grade_id].source.strip() == "YOUR ANSWER HERE"
    for grade_id in STUDENT_CODE:
        assert "# YOUR CODE HERE\n" in cells[grade_id].source and "raise NotImplementedError()" in cells[grade_id].source


def test_release_has_no_outputs_and_no_gradebook(release):
    assert all(not cell.get("outputs") for cell in release.cells)
    assert not [p for p in (ROOT / "release").rglob("*") if p.suffix in {".db", ".sqlite"} or "gradebook" in p.name]


# (c) grade_ids and points

@pytest.mark.parametrize("path", [SOURCE, RELEASE], ids=["source", "release"])
def test_every_cell_has_a_unique_grade_id(path):
    notebook = nbformat.read(path, as_version=4)
    ids = [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells]
    assert None not in ids, "every cell needs nbgrader metadata with a grade_id"
    assert len(ids) == len(set(ids)), f"duplicated grade_ids: {sorted({i for i in ids if ids.count(i) > 1})}"
    assert all(cell.metadata["nbgrader"].get("schema_version") == 3 for cell in notebook.cells)


@pytest.mark.parametrize("path", [SOURCE, RELEASE], ids=["source", "release"])
def test_graded_cells_and_points(path):
    notebook = nbformat.read(path, as_version=4)
    cells = _cells_by_id(notebook)
    graded = {gid: cell.metadata["nbgrader"]["points"] for gid, cell in cells.items()
              if cell.metadata["nbgrader"].get("grade")}
    assert {gid: graded[gid] for gid in graded.keys() - MANUAL} == checks_points_by_cell()
    assert sum(graded.values()) == TOTAL_POINTS
    for gid in graded:
        meta = cells[gid].metadata["nbgrader"]
        if gid in MANUAL:
            assert cells[gid].cell_type == "markdown" and meta["solution"] and not meta["locked"]
        else:
            assert cells[gid].cell_type == "code" and meta["locked"] and not meta["solution"]
    for gid in STUDENT_CODE:
        assert cells[gid].cell_type == "code" and cells[gid].metadata["nbgrader"]["solution"]
    for gid in PROVIDED:
        assert cells[gid].metadata["nbgrader"]["locked"], f"{gid} must be locked"


def checks_points_by_cell() -> dict[str, float]:
    """Each test cell's worth, from the checks (the one place points are declared)."""
    from autograder.checks import ALL_CHECKS

    return {cell: points for cell, (_, points) in
            subtotals([CheckResult(c.name, c.part, c.test_cell, 0.0, c.points, "") for c in ALL_CHECKS],
                      key=lambda result: result.test_cell).items()}


def test_source_hidden_tests_call_the_grader_for_their_own_cell(source):
    for gid in checks_points_by_cell():
        text = _cells_by_id(source)[gid].source
        assert f'run_hidden_checks("{gid}", globals())' in text.split("### BEGIN HIDDEN TESTS")[1]


# the sample submissions

@pytest.mark.parametrize("path", SAMPLES, ids=[p.parts[-3] for p in SAMPLES])
def test_samples_are_made_from_the_current_release(path, release):
    sample = _cells_by_id(nbformat.read(path, as_version=4))
    for gid, cell in _cells_by_id(release).items():
        assert gid in sample, f"{path.parts[-3]}: cell {gid} is missing"
        if not cell.metadata["nbgrader"].get("solution"):
            assert sample[gid].source == cell.source, f"{path.parts[-3]}: provided cell {gid} differs from the release"
