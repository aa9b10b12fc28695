"""The Gradescope bundle, unpacked into a folder laid out as Gradescope's ``/autograder``, grades as the CLI does.

Gradescope unpacks the zip into ``ROOT/source``, copies ``run_autograder`` to ``ROOT``, puts the upload in
``ROOT/submission`` and reads ``ROOT/results/results.json``; ``AUTOGRADER_ROOT`` points the scripts
at a temporary ROOT and ``AUTOGRADER_PYTHON`` at this machine's venv (nothing is installed).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.assignment import course
from autograder.gradescope import build_bundle

ROOT = Path(__file__).resolve().parents[2]
ALICE = ROOT / "samples" / "submitted" / "alice" / "transformer" / "transformer.ipynb"
COURSE_NOTEBOOK = "source/transformer/transformer.ipynb"
COURSE_FILES = {"setup.sh", "run_autograder", "requirements.txt", COURSE_NOTEBOOK}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    result = subprocess.run([sys.executable, "-m", "autograder.gradescope", "build", str(out)], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return out


def gradescope_root(bundle: Path, where: Path, *uploads: Path) -> Path:
    """``where/autograder`` laid out as Gradescope lays out ``/autograder`` for one submission."""
    root = where / "autograder"
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():  # extractall drops the mode bits; Gradescope keeps them
            os.chmod(root / "source" / info.filename, info.external_attr >> 16 & 0o777)
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    for upload in uploads:
        shutil.copy(upload, root / "submission" / upload.name)
    return root


def environment(root: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AUTOGRADER_", "PYTHONPATH"))}
    return env | {"AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable,
                  "AUTOGRADER_CACHE": os.environ.get("AUTOGRADER_CACHE", str(Path.home() / ".cache" /
                                                                              "transformer-autograder"))} | extra


def run_autograder(root: Path, **extra: str) -> dict:
    result = subprocess.run([str(root / "run_autograder")], env=environment(root, **extra), cwd=root,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def cli_results(submission: Path, tmp_path: Path, *parts: str) -> dict:
    out = tmp_path / "cli.json"
    command = [sys.executable, "-m", "autograder", "grade", str(submission), "--json", str(out)]
    result = subprocess.run(command + (["--parts", *parts] if parts else []), cwd=ROOT, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def assert_same_grading(bundled: dict, cli: dict) -> None:
    def per_check(results: dict) -> list[tuple]:
        return [(t["name"], t["score"], t["max_score"], t["tags"], t["output"]) for t in results["tests"]]

    assert per_check(bundled) == per_check(cli)
    assert bundled["score"] == cli["score"]
    assert bundled["extra_data"] == cli["extra_data"]  # digest, engine version, flags, notes
    for test in bundled["tests"]:
        assert test["visibility"] == "visible" and test["status"] in ("passed", "failed")
    for flag in cli["extra_data"]["flags"]:
        assert flag in bundled["output"]


def test_the_bundle_holds_the_scripts_the_engine_and_the_course_only(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as archive:
        infos = {info.filename: info for info in archive.infolist()}
    engine = {path.relative_to(ROOT).as_posix() for path in (ROOT / "autograder").rglob("*.py")
              if "__pycache__" not in path.parts}
    assert set(infos) == COURSE_FILES | engine
    for script in ("setup.sh", "run_autograder"):
        assert infos[script].external_attr >> 16 & 0o111, f"{script} is not executable"
    leaks = [name for name in infos if name.startswith(("tests/", "samples/", "solutions/", "release/", ".venv"))
             or name.endswith((".db", ".sqlite", ".pyc"))]
    assert not leaks


def test_the_bundled_notebook_holds_no_model_answer(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as archive:
        bundled = archive.read(COURSE_NOTEBOOK).decode()
    source = nbformat.read(course.SOURCE_NOTEBOOK, as_version=4)
    answers = [cell.source for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")]
    assert len(answers) >= 8
    assert "BEGIN SOLUTION" not in bundled and "Model answer" not in bundled
    assert not [answer[:60] for answer in answers if answer.strip() and json.dumps(answer)[1:-1] in bundled]


def test_the_bundled_course_reads_as_the_checkouts(bundle: Path, tmp_path: Path) -> None:
    """What the engine takes from the notebook (which cells are the student's, the provided code) is unchanged."""
    root = gradescope_root(bundle, tmp_path)
    script = ("import json; from autograder.assignment import course; ids = sorted(course.provided_cells()); "
              "print(json.dumps([course.SOURCE_NOTEBOOK.as_posix(), ids, course.cells(tuple(ids))]))")
    result = subprocess.run([sys.executable, "-c", script], cwd=root / "source", env=environment(
        root, PYTHONPATH=str(root / "source")), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    path, ids, cells = json.loads(result.stdout)
    assert path == (root / "source" / COURSE_NOTEBOOK).as_posix()  # the bundle's copy, not the checkout's
    assert ids == sorted(course.provided_cells())
    assert cells == course.cells(tuple(ids))


def test_setup_check_passes_in_this_venv(bundle: Path, tmp_path: Path) -> None:
    root = gradescope_root(bundle, tmp_path)
    result = subprocess.run(["bash", str(root / "source" / "setup.sh"), "--check"], env=environment(root),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("python", "lock", "imports", "course", "corpus", "tokenizer"):
        assert f"ok       {name}:" in result.stdout
    assert not list(root.rglob("venv"))  # --check installs nothing


def test_setup_check_fails_without_python(bundle: Path, tmp_path: Path) -> None:
    root = gradescope_root(bundle, tmp_path)
    result = subprocess.run(["bash", str(root / "source" / "setup.sh"), "--check"], capture_output=True, text=True,
                            env=environment(root, AUTOGRADER_PYTHON=str(tmp_path / "no-python")), timeout=60)
    assert result.returncode == 1 and "FAILED   python" in result.stderr


@pytest.mark.slow
def test_setup_check_fails_without_the_corpus(bundle: Path, tmp_path: Path) -> None:
    root = gradescope_root(bundle, tmp_path)
    (tmp_path / "empty").mkdir()
    result = subprocess.run(["bash", str(root / "source" / "setup.sh"), "--check"], capture_output=True, text=True,
                            env=environment(root, NLTK_DATA=str(tmp_path / "empty"), HOME=str(tmp_path)), timeout=300)
    assert result.returncode == 1
    assert "FAILED   corpus" in result.stdout and "ok       lock:" in result.stdout


def test_run_autograder_grades_part_a_as_the_cli_does(bundle: Path, tmp_path: Path) -> None:
    root = gradescope_root(bundle, tmp_path, ALICE)
    bundled = run_autograder(root, AUTOGRADER_PARTS="part-a")
    assert {tag for test in bundled["tests"] for tag in test["tags"][:1]} == {"part-a"}
    assert_same_grading(bundled, cli_results(ALICE, tmp_path, "part-a"))


@pytest.mark.slow
def test_run_autograder_grades_every_part_as_the_cli_does(bundle: Path, tmp_path: Path) -> None:
    root = gradescope_root(bundle, tmp_path, ALICE)
    bundled = run_autograder(root)
    assert {test["tags"][0] for test in bundled["tests"]} == {"part-a", "part-b-hook", "part-b-fix", "part-c"}
    assert_same_grading(bundled, cli_results(ALICE, tmp_path))


@pytest.mark.parametrize("upload", ["nothing", "two notebooks", "a folder named like a notebook"])
def test_run_autograder_explains_an_upload_it_cannot_grade(upload: str, bundle: Path, tmp_path: Path) -> None:
    root = gradescope_root(bundle, tmp_path)
    if upload == "two notebooks":
        shutil.copy(ALICE, root / "submission" / "transformer.ipynb")
        shutil.copy(ALICE, root / "submission" / "transformer (1).ipynb")
    elif upload != "nothing":
        (root / "submission" / "transformer.ipynb").mkdir()
    results = run_autograder(root)
    assert results["score"] == 0 and results["tests"] == []
    assert {"nothing": "No notebook", "two notebooks": "2 notebooks",
            "a folder named like a notebook": "could not be read"}[upload] in results["output"]
    assert "Traceback" not in results["output"]


def test_run_autograder_writes_a_result_when_python_cannot_start(bundle: Path, tmp_path: Path) -> None:
    root = gradescope_root(bundle, tmp_path, ALICE)
    results = run_autograder(root, AUTOGRADER_PYTHON=str(tmp_path / "no-python"))
    assert results["score"] == 0 and "could not start" in results["output"]


def test_the_bundle_is_the_same_bytes_every_time(tmp_path: Path) -> None:
    """The same checkout gives the same zip, so an instructor can tell whether Gradescope has the current one."""
    first, again = tmp_path / "autograder.zip", tmp_path / "again" / "autograder.zip"
    assert build_bundle(first) == first and build_bundle(again) == again
    assert first.read_bytes() == again.read_bytes()
    with zipfile.ZipFile(first) as archive:  # no build time in it
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
