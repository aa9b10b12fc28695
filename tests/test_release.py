"""The student release is what nbgrader makes of source/, and it gives nothing away."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "source" / "transformer" / "transformer.ipynb"
RELEASE = ROOT / "release" / "transformer" / "transformer.ipynb"

POINTS = {"task0_reflection": 5, "test_sdpa": 15, "test_mha": 15, "test_attention_hook": 10, "bug_analysis": 10,
          "test_fixed_encoder": 15, "test_fixed_learning": 5, "test_partc": 10, "partd_analysis": 15}
STUDENT_CELLS = ("sdpa", "mha", "attention_hook", "fixed_encoder", "tokenize_fn", "compute_metrics")
SECRETS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "run_hidden_checks", "from autograder",
           "Model answer", "Rubric", "x = self.norm1(x + self.dropout1(attn_output))",
           "storage.append(output[1].detach().cpu())", "torch.matmul(attention_weights, V)")


def _nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> nbformat.NotebookNode:
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(ROOT / "source", course / "source")
    shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", "transformer", "--force",
                    f"--CourseDirectory.root={course}", f"--CourseDirectory.db_url=sqlite:///{course / 'gb.db'}"],
                   cwd=course, env=env, check=True, capture_output=True)
    return nbformat.read(course / "release" / "transformer" / "transformer.ipynb", as_version=4)


def test_committed_release_is_what_nbgrader_makes_of_source(regenerated: nbformat.NotebookNode) -> None:
    committed = nbformat.read(RELEASE, as_version=4)
    assert [(c.cell_type, c.source, _nbgrader_meta(c)) for c in committed.cells] == \
        [(c.cell_type, c.source, _nbgrader_meta(c)) for c in regenerated.cells], \
        "release/ is out of date: run `nbgrader generate_assignment transformer --force` and commit release/"


def test_release_gives_away_no_solution_hidden_test_or_rubric() -> None:
    text = RELEASE.read_text()
    leaks = [secret for secret in SECRETS if secret in text]
    assert not leaks, f"the release contains {leaks}"
    assert not list((ROOT / "release").rglob("*.db")), "a gradebook must never be in release/"


def test_student_cells_are_stubs_in_the_release() -> None:
    cells = {_nbgrader_meta(c).get("grade_id"): c for c in nbformat.read(RELEASE, as_version=4).cells}
    for grade_id in STUDENT_CELLS:
        assert "YOUR CODE HERE" in cells[grade_id].source, grade_id
    for grade_id in ("task0_reflection", "bug_analysis", "partd_analysis"):
        assert cells[grade_id].source.strip() == "YOUR ANSWER HERE", grade_id


def test_grade_ids_are_unique_and_points_total_100() -> None:
    cells = nbformat.read(SOURCE, as_version=4).cells
    grade_ids = [_nbgrader_meta(c).get("grade_id") for c in cells]
    assert None not in grade_ids, "every cell needs a grade_id"
    assert len(grade_ids) == len(set(grade_ids)), "grade_ids must be unique"
    points = {_nbgrader_meta(c)["grade_id"]: _nbgrader_meta(c).get("points") for c in cells if _nbgrader_meta(c).get("grade")}
    assert points == POINTS
    assert sum(points.values()) == 100


def test_every_autograded_cell_has_engine_checks_worth_its_points() -> None:
    from autograder.checks import ALL_CHECKS

    by_cell: dict[str, float] = {}
    for entry in ALL_CHECKS:
        by_cell[entry.test_cell] = by_cell.get(entry.test_cell, 0) + entry.points
    autograded = {gid: p for gid, p in POINTS.items() if gid.startswith("test_")}
    assert by_cell == autograded
