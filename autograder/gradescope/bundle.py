"""The zip Gradescope's autograder upload takes: its two scripts, the engine, the lock and the course code.

Gradescope unpacks the zip into ``/autograder/source``, runs ``setup.sh`` once to build the image
and ``run_autograder`` for every submission.  The bundle holds only what grading reads at run time:
the ``autograder`` package (``sandbox/shared.py`` makes its parent the project root, which the worker
gets as ``PYTHONPATH``), ``requirements.txt`` for ``setup.sh``, and the course notebook at the path
``assignment/course.py`` reads, cut down to what that module reads (the code cells, with the
solution cells emptied): a worker where Landlock is unavailable (some container kernels) could read
the bundle, so it must hold no model answers.  Never tests, samples, solutions, the gradebook or a venv.
"""
from __future__ import annotations

import copy
import zipfile
from collections.abc import Iterator
from pathlib import Path

import nbformat

from autograder.assignment import course
from autograder.sandbox.shared import PACKAGE_DIR, PROJECT_ROOT

TEMPLATES = Path(__file__).resolve().parent / "templates"
SCRIPTS = ("setup.sh", "run_autograder")      # at the zip's root, where Gradescope looks for them
LOCK = "requirements.txt"
COURSE_NOTEBOOK = Path(course.SOURCE_NOTEBOOK).relative_to(PROJECT_ROOT)
SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".hypothesis"}
# a fixed date keeps the zip the same bytes for the same files (zip stores one; 1980 is its epoch)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def course_notebook() -> nbformat.NotebookNode:
    """The course notebook as the engine reads it: code cells and their metadata; solution cells empty."""
    notebook = copy.deepcopy(nbformat.read(course.SOURCE_NOTEBOOK, as_version=4))
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = ""
        cell.outputs, cell.execution_count = [], None
        cells.append(cell)
    notebook.cells = cells
    return notebook


def engine_files() -> Iterator[tuple[str, Path]]:
    """(name in the zip, file) of the engine package's modules (the templates are already at the zip's root)."""
    package = Path(PACKAGE_DIR)
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package.parent)
        if not SKIPPED_PARTS & set(relative.parts):
            yield relative.as_posix(), path


def _add(archive: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(info, data)


def build_bundle(out: Path) -> Path:
    """Write the Gradescope autograder zip to ``out`` (parents made) and return its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for script in SCRIPTS:
            _add(archive, script, (TEMPLATES / script).read_bytes(), executable=True)
        _add(archive, LOCK, (Path(PROJECT_ROOT) / LOCK).read_bytes())
        _add(archive, COURSE_NOTEBOOK.as_posix(), nbformat.writes(course_notebook()).encode() + b"\n")
        for name, path in engine_files():
            _add(archive, name, path.read_bytes())
    partial.replace(out)
    return out
