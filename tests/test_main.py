"""The command line: a path it cannot use is one line on stderr and exit status 2; ``--time-budget`` reaches Limits."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from autograder.__main__ import USAGE_ERROR, main
from autograder.sandbox.limits import Limits

ROOT = Path(__file__).resolve().parents[1]


def one_line_error(capsys: pytest.CaptureFixture[str], command: str) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"{command}: ")
    return err


def unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission bits do not stop root (the test machine's user), so the refusal is simulated."""
    opened = Path.open

    def refuse(self: Path, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return opened(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)


@pytest.mark.parametrize("case, message", [("missing", "does not exist"), ("folder", "is not a file"),
                                           ("pdf", "is not a notebook"), ("unreadable", "cannot read")])
def test_grade_refuses_a_path_it_cannot_use(case, message, tmp_path, capsys, monkeypatch):
    path = {"missing": tmp_path / "nope.ipynb", "folder": tmp_path, "pdf": tmp_path / "essay.pdf",
            "unreadable": tmp_path / "locked.ipynb"}[case]
    if case in ("pdf", "unreadable"):
        path.write_text("{}")
    if case == "unreadable":
        unreadable(path, monkeypatch)
    assert main(["grade", str(path)]) == USAGE_ERROR
    assert message in one_line_error(capsys, "grade")


def test_grade_all_refuses_a_folder_it_cannot_use(tmp_path, capsys):
    assert main(["grade-all", str(tmp_path / "nope"), "--out", str(tmp_path / "out"), "-q"]) == USAGE_ERROR
    assert "nope" in one_line_error(capsys, "grade-all")
    (tmp_path / "alice.py").write_text("x = 1\n")
    assert main(["grade-all", str(tmp_path / "alice.py"), "--out", str(tmp_path / "out"), "-q"]) == USAGE_ERROR
    one_line_error(capsys, "grade-all")
    (tmp_path / "taken").write_text("a file where the output folder should go")
    assert main(["grade-all", str(tmp_path), "--out", str(tmp_path / "taken" / "out"), "-q"]) == USAGE_ERROR
    one_line_error(capsys, "grade-all")


@pytest.mark.parametrize("command", [["grade", "no/such/notebook.ipynb"], ["grade-all", "no/such/folder"]])
def test_no_traceback_from_the_real_command(command, tmp_path):
    done = subprocess.run([sys.executable, "-m", "autograder", *command], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert done.returncode == USAGE_ERROR
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr


def test_time_budget_reaches_the_limits_of_grade(tmp_path, capsys, monkeypatch):
    from autograder.grading import engine
    from autograder.grading.report import GradeReport

    seen = []

    def fake_grade(path, *, limits=None, parts=None):
        seen.append(limits)
        return GradeReport(submission=Path(path).name, digest="0", engine_version="test")

    monkeypatch.setattr(engine, "grade_submission", fake_grade)
    submission = tmp_path / "alice.py"
    submission.write_text("x = 1\n")
    assert main(["grade", str(submission), "--time-budget", "42.5"]) == 0
    assert main(["grade", str(submission)]) == 0
    assert seen == [Limits(submission_seconds=42.5), None]  # None: the engine's defaults
    with pytest.raises(SystemExit):
        main(["grade", str(submission), "--time-budget", "-1"])
    capsys.readouterr()
    assert main(["grade", str(submission), "--json", str(tmp_path / "no" / "such" / "dir" / "results.json")]) == USAGE_ERROR
    assert "cannot write" in one_line_error(capsys, "grade")


def test_time_budget_reaches_the_limits_of_grade_all(tmp_path, capsys, monkeypatch):
    from autograder.batch import run

    seen = []

    def fake_grade_all(submitted, out, **options):
        seen.append((options["limits"], options["timeout"]))
        return run.BatchResult([], Path(out))

    monkeypatch.setattr(run, "grade_all", fake_grade_all)
    assert main(["grade-all", str(tmp_path), "--time-budget", "60", "-q"]) == 0
    assert main(["grade-all", str(tmp_path), "--time-budget", "900", "--timeout", "1000", "-q"]) == 0
    assert seen == [(Limits(submission_seconds=60.0), 1800.0), (Limits(submission_seconds=900.0), 1000.0)]
    capsys.readouterr()
    assert main(["grade-all", str(tmp_path), "--time-budget", "1000", "--timeout", "900", "-q"]) == USAGE_ERROR
    assert "--timeout" in one_line_error(capsys, "grade-all")
    assert len(seen) == 2
