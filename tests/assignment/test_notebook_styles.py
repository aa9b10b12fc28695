"""Grade what the notebook runs: notebooks written as students write them get the plain solution's grade.

The corpus is tests/submissions/notebooks/ (made by make_notebooks.py there; expected.json says
which flags each may carry).  Graded through ``grade-all`` (each in its own grading process) and
the CLI; tests/nbgrader_steps/test_pipeline.py runs some of them through ``nbgrader autograde``.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.batch.run import grade_all

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "submissions" / "notebooks"
pytestmark = pytest.mark.slow


def checks(results: dict) -> dict[str, tuple[float, str]]:
    return {test["name"]: (test["score"], test["output"]) for test in results["tests"]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("styles")
    result = grade_all(CORPUS, out, jobs=2, progress=False)
    assert not result.failed, [row.report.flags for row in result.failed]
    return out


@pytest.mark.parametrize("name", sorted(json.loads((CORPUS / "expected.json").read_text()).keys() - {"_about"}))
def test_each_style_gets_the_plain_solutions_grade(graded: Path, name: str, expected_verdicts) -> None:
    plain = json.loads((graded / "plain" / "results.json").read_text())
    got = json.loads((graded / Path(name).stem / "results.json").read_text())
    assert plain["score"] == 70  # every automatic point
    assert checks(got) == checks(plain)
    flags = got["extra_data"]["flags"]
    wanted = expected_verdicts("notebooks")[name]["flags"]
    assert len(flags) == len(wanted) and all(w in f for w, f in zip(wanted, flags)), flags


def test_the_cli_gives_what_grade_all_gives(graded: Path, tmp_path: Path) -> None:
    name = "helper_in_added_cell"
    out = tmp_path / "results.json"
    subprocess.run([sys.executable, "-m", "autograder", "grade", str(CORPUS / f"{name}.ipynb"), "--json", str(out)],
                   check=True, capture_output=True, cwd=ROOT, timeout=900)
    assert json.loads(out.read_text()) == json.loads((graded / name / "results.json").read_text())
