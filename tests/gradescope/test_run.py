"""What ``run_autograder`` writes: Gradescope's results.json fields, the flags in its text, and a
sentence (never a traceback) for an upload it cannot grade or a grader that breaks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder.gradescope import run
from autograder.grading import engine
from autograder.grading.report import CheckResult, GradeReport

TEST_FIELDS = {"name", "score", "max_score", "output", "tags", "visibility", "status"}


def a_report() -> GradeReport:
    return GradeReport(submission="transformer.ipynb", digest="d", engine_version="1", results=[
        CheckResult("sdpa_values", "part-a", "test_sdpa", 3.0, 3.0, ""),
        CheckResult("mha_mask", "part-a", "test_mha", 0.0, 2.0, "the masked key still gets weight"),
    ], flags=["part-a: a statement ran over its time budget"], notes={"part-a": ["error while loading your code: x"]})


def test_results_have_gradescopes_fields_and_the_flags_in_their_text() -> None:
    results = run.results_of(a_report())
    assert results["score"] == 3.0
    assert [set(test) for test in results["tests"]] == [TEST_FIELDS] * 2
    assert [test["status"] for test in results["tests"]] == ["passed", "failed"]
    assert {test["visibility"] for test in results["tests"]} == {"visible"}
    assert "part-a: a statement ran over its time budget" in results["output"]
    assert "error while loading your code: x" in results["output"]
    assert "3 / 5" in results["output"]
    json.dumps(results)


@pytest.mark.parametrize("chosen, shown", [("after_published", "after_published"), ("sometimes", "visible")])
def test_the_instructor_chooses_the_visibility(chosen: str, shown: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(run.VISIBILITY_VARIABLE, chosen)
    assert {test["visibility"] for test in run.results_of(a_report())["tests"]} == {shown}


def test_the_one_notebook_is_found_in_folders_and_next_to_checkpoints(tmp_path: Path) -> None:
    notebook = tmp_path / "hw" / "transformer.ipynb"
    for path in (notebook, tmp_path / "hw" / ".ipynb_checkpoints" / "transformer-checkpoint.ipynb",
                 tmp_path / "__MACOSX" / "hw" / "._transformer.ipynb"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    assert run.find_submission(tmp_path) == (notebook, "")


def test_no_notebook_is_named_with_what_was_uploaded(tmp_path: Path) -> None:
    (tmp_path / "transformer.py").write_text("")
    path, problem = run.find_submission(tmp_path)
    assert path is None and "No notebook" in problem and "transformer.py" in problem


def test_an_unreadable_notebook_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission bits do not stop root (the test machine's user), so the refusal is simulated."""
    notebook = tmp_path / "transformer.ipynb"
    notebook.write_text("{}")
    opened = Path.open

    def refuse(self: Path, *args, **kwargs):
        if self == notebook:
            raise PermissionError(13, "Permission denied", str(self))
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    path, problem = run.find_submission(tmp_path)
    assert path is None and "could not be read (Permission denied)" in problem


def test_a_grader_that_breaks_gives_a_sentence_and_score_0(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "transformer.ipynb").write_text("{}")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the grader")

    monkeypatch.setattr(engine, "grade_submission", broken)
    results = run.grade(tmp_path)
    assert results["score"] == 0 and "internal error: RuntimeError" in results["output"]
    assert "Traceback" not in results["output"] and "Traceback" in capsys.readouterr().err
    out = run.write_results(tmp_path, results)
    assert json.loads(out.read_text()) == results
