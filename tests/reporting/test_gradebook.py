"""The class report from nbgrader's gradebook: per test cell, per check where the feedback is at hand, flags."""
from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader.api import Gradebook

from autograder.nbgrader_steps.flags import COMMENT_PREFIX
from autograder.reporting import class_report
from autograder.reporting.class_data import ReportError
from autograder.reporting.gradebook import TRUSTED_HEADING, from_gradebook

SCORES = {"ann": (10.0, 5.0), "ben": (3.0, 5.0), "cat": (3.0, 0.0)}
BEN_FEEDBACK = f"""{TRUSTED_HEADING}: 3/10
[PASS] sdpa_shapes (3/3)
[FAIL] sdpa_values (0/7)
    with Q of shape (1, 1, 1, 2):
    Your weights are what you get when the scores are divided by d_k instead of sqrt(d_k).
"""


def make_course(root: Path) -> str:
    """A gradebook as ``nbgrader autograde`` leaves it, and ben's autograded notebook with the engine's feedback."""
    url = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(url) as gradebook:
        gradebook.add_assignment("transformer")
        gradebook.update_or_create_notebook("transformer", "transformer")
        for cell, points in (("test_sdpa", 10.0), ("test_mha", 5.0)):
            gradebook.update_or_create_grade_cell(cell, "transformer", "transformer", max_score=points, cell_type="code")
        gradebook.update_or_create_solution_cell("sdpa", "transformer", "transformer")
        for student, (sdpa, mha) in SCORES.items():
            gradebook.add_student(student)
            gradebook.add_submission("transformer", student)
            for cell, score in (("test_sdpa", sdpa), ("test_mha", mha)):
                gradebook.find_grade(cell, "transformer", "transformer", student).auto_score = score
        gradebook.add_student("dan")  # never submitted
        comment = gradebook.find_comment("sdpa", "transformer", "transformer", "cat")
        comment.auto_comment = f"{COMMENT_PREFIX}the kernel died at <cell 7>"
        gradebook.db.commit()
    notebook = new_notebook(cells=[new_code_cell("check()", metadata={"nbgrader": {"grade_id": "test_sdpa"}},
                                                 outputs=[new_output("stream", name="stdout", text=BEN_FEEDBACK)])])
    (root / "autograded" / "ben" / "transformer").mkdir(parents=True)
    nbformat.write(notebook, root / "autograded" / "ben" / "transformer" / "transformer.ipynb")
    return url


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once: a new gradebook costs nbgrader an alembic subprocess (about 15 s here)."""
    root = tmp_path_factory.mktemp("course")
    make_course(root)
    return root


@pytest.fixture
def course(built: Path, tmp_path: Path) -> tuple[Path, str]:
    """A copy of the course for one test: its folder and its gradebook URL."""
    root = tmp_path / "course"
    shutil.copytree(built, root)
    return root, f"sqlite:///{root / 'gradebook.db'}"


def test_the_gradebook_gives_each_test_cell_and_the_feedback_each_check(course: tuple[Path, str]) -> None:
    root, url = course
    results = from_gradebook(url, autograded=root / "autograded")
    by_name = {s.student: s for s in results.students}
    assert results.columns == ("test_sdpa", "test_mha") and results.unit == "check"
    assert by_name["ann"].total == 15 and by_name["ann"].max_score == 15 and by_name["ben"].parts["test_sdpa"] == 3
    assert by_name["dan"].status == "missing"
    assert by_name["cat"].flags == ["the kernel died at <cell 7>"]
    assert [(c.name, c.score) for c in by_name["ben"].checks if c.test_cell == "test_sdpa"] == [
        ("sdpa_shapes", 3.0), ("sdpa_values", 0.0)]
    assert by_name["ann"].checks[0].name == "test_sdpa"  # no feedback at hand: the test cell stands in


def test_the_report_from_a_gradebook(course: tuple[Path, str]) -> None:
    tmp_path, url = course
    page = class_report.write_report(tmp_path, tmp_path / "report.html", gradebook_url=url).read_text()
    assert "divided by d_k instead of sqrt(d_k)" in page and "the kernel died at &lt;cell 7&gt;" in page
    assert "<cell 7>" not in page
    (tmp_path / "autograded" / "ben" / "transformer" / "transformer.ipynb").unlink()
    page = class_report.write_report(tmp_path, tmp_path / "report.html", gradebook_url=url).read_text()
    assert "Pass rate per test cell" in page and "keeps one score per graded cell" in page


def test_a_gradebook_that_cannot_be_used_is_a_clear_error(course: tuple[Path, str]) -> None:
    _, url = course
    with pytest.raises(ReportError, match="no assignment 'ps9'"):
        from_gradebook(url, "ps9")
    with pytest.raises(ReportError, match="cannot open the gradebook"):
        from_gradebook("nosuchdb://nowhere/x")
    with Gradebook(url) as gradebook:
        gradebook.remove_assignment("transformer")
    with pytest.raises(ReportError, match="has 0 assignments"):
        from_gradebook(url)
