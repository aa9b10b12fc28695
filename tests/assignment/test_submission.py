"""Reading a submission never raises: a notebook nested too deep for Python's JSON parser keeps its cells.

The deep-nested notebook is tests/submissions/nbgrader_faults/'s clean notebook with a value
nested 100,000 deep in the answer cell's metadata (``make_faults.deep_nested_text``); every
front door (``grade``, ``grade-all``, ``nbgrader autograde`` in tests/nbgrader_steps/test_faults.py)
grades it from its code, with a flag.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.assignment import course
from autograder.assignment.submission import MAX_JSON_DEPTH, as_python, flatten_deep_json, load_submission, parse_notebook

FAULTS = Path(__file__).resolve().parents[1] / "submissions" / "nbgrader_faults"
sys.path.insert(0, str(FAULTS))
import make_faults  # noqa: E402, I001

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def deep_notebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("deep") / "deep_nested_metadata.ipynb"
    path.write_text(make_faults.deep_nested_text())
    return path


def test_values_nested_too_deep_become_null_and_nothing_else_changes() -> None:
    text = '{"a": [[["]]] [[ not brackets", [1]]], {"b": "\\" ]"}], "c": [2]}'
    assert flatten_deep_json(text, limit=3) == ('{"a": [[null], {"b": "\\" ]"}], "c": [2]}', 1)
    assert flatten_deep_json(text, limit=2) == ('{"a": [null, null], "c": [2]}', 2)
    assert flatten_deep_json(text, limit=10) == (text, 0)


def test_a_file_cut_off_inside_a_deep_value_keeps_what_came_before() -> None:
    assert flatten_deep_json('{"cells": [], "x": ' + "[" * 50, limit=3) == ('{"cells": [], "x": [[', 1)


def test_an_ordinary_notebook_is_read_as_it_is() -> None:
    text = (FAULTS / "clean.ipynb").read_text()
    parsed = parse_notebook(text)
    assert parsed.notebook is not None and parsed.error is None and parsed.replaced == 0


def test_a_deep_nested_notebook_keeps_every_cell_and_says_why_it_is_flagged(deep_notebook: Path) -> None:
    clean = load_submission(FAULTS / "clean.ipynb")
    deep = load_submission(deep_notebook)
    assert [cell.source for cell in deep.cells] == [cell.source for cell in clean.cells]
    assert deep.grade_ids == clean.grade_ids
    assert deep.problems == (f"the notebook file holds JSON nested more than {MAX_JSON_DEPTH} levels deep (1 value), "
                             "read as null; its cells were graded from their code",)


def _front_door(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_grade_scores_a_deep_nested_notebook_from_its_code_with_a_flag(deep_notebook: Path, tmp_path: Path,
                                                                       expected_verdicts) -> None:
    expected = expected_verdicts("nbgrader_faults")["deep_nested_metadata.ipynb"]
    run = _front_door("grade", str(deep_notebook), "--parts", "part-a", "--json", str(tmp_path / "results.json"))
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["score"] == sum(expected["scores"].values())
    for wanted in expected["cli_flags"]:
        assert any(wanted in flag for flag in results["extra_data"]["flags"]), results["extra_data"]["flags"]


@pytest.mark.slow
def test_grade_all_scores_a_deep_nested_notebook_from_its_code_with_a_flag(deep_notebook: Path, tmp_path: Path,
                                                                           expected_verdicts) -> None:
    expected = expected_verdicts("nbgrader_faults")["deep_nested_metadata.ipynb"]
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    (submitted / "deep.ipynb").write_text(deep_notebook.read_text())
    run = _front_door("grade-all", str(submitted), "--out", str(tmp_path / "out"), "--parts", "part-a", "-q")
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr[-3000:]
    results = json.loads((tmp_path / "out" / "deep" / "results.json").read_text())
    assert results["score"] == sum(expected["scores"].values())
    for wanted in expected["cli_flags"]:
        assert any(wanted in flag for flag in results["extra_data"]["flags"]), results["extra_data"]["flags"]
    with (tmp_path / "out" / "grades.csv").open(newline="") as handle:
        row = next(csv.DictReader(handle))
    assert "nested more than" in row["flags"]


# magics, as IPython runs them

@pytest.mark.parametrize("cell, runs", [
    ("%%time\ndef f():\n    return 1\n", "\ndef f():\n    return 1\n"),
    ("%%capture output --no-stderr\nx = 2\n", "\nx = 2\n"),
    ("y = 1\n%time z = y + 1\n", "y = 1\nz = y + 1\n"),
])
def test_magics_that_time_or_capture_python_run_that_python_on_its_own_lines(cell: str, runs: str) -> None:
    assert as_python(cell) == runs


@pytest.mark.parametrize("cell", ["%%timeit\nx = 1\n", "%%writefile a.py\nx = 1\n", "%%bash\nls\n"])
def test_other_cell_magics_define_nothing(cell: str) -> None:
    assert as_python(cell).startswith("get_ipython().run_cell_magic(")


# course cells without their metadata

def _notebook(path: Path, cells: list[dict]) -> Path:
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _code(source: str, grade_id: str | None = None) -> dict:
    metadata = {"nbgrader": {"grade_id": grade_id, "solution": True}} if grade_id else {}
    return {"cell_type": "code", "id": f"c{abs(hash(source)) % 10**8}", "metadata": metadata,
            "source": source, "outputs": [], "execution_count": None}


def test_a_course_cell_that_lost_its_metadata_is_known_by_its_code(tmp_path: Path) -> None:
    setup = course.cells(("setup",))["setup"]
    test_sdpa = course.released_cells()
    released_test = next(code for code, gid in test_sdpa.items() if gid == "test_sdpa")
    submission = load_submission(_notebook(tmp_path / "n.ipynb", [
        _code(setup + "\n\n"), _code("def scaled_dot_product_attention(Q, K, V, mask=None):\n    pass\n"),
        _code(released_test)]))
    assert [cell.grade_id for cell in submission.cells] == ["setup", None, "test_sdpa"]
    assert submission.cells[0].label == "cell setup"


def test_a_students_copy_of_a_course_cell_beside_the_original_stays_the_students(tmp_path: Path) -> None:
    setup = course.cells(("setup",))["setup"]
    submission = load_submission(_notebook(tmp_path / "n.ipynb", [_code(setup, "setup"), _code(setup)]))
    assert [cell.grade_id for cell in submission.cells] == ["setup", None]
