"""The one seam that reads a submission: its code cells in notebook order, and what is wrong with the file.

Grading runs what the notebook runs, so a notebook is read as a kernel would see it: every
code cell in order, each known by its nbgrader ``grade_id`` where it has one.  The source
notebook says what each grade_id is (a provided cell, a test cell, the student's answer);
cells the student added have none and are named by the cell above them.  A ``.py`` file (the
notebook exported as a script) is one cell.  Nothing here runs student code.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

_CELL_START = re.compile(r'\{\s*"cell_type"')
_MAGIC = re.compile(r"^\s*[%!]", re.M)


@dataclass(frozen=True)
class Cell:
    """One code cell as the student's kernel would run it."""

    label: str              # how a student finds it: "cell sdpa", "a cell you added after sdpa"
    source: str
    grade_id: str | None = None


@dataclass(frozen=True)
class Submission:
    """What the grader knows of one submitted file."""

    path: Path
    kind: str  # "notebook" or "script"
    digest: str
    cells: tuple[Cell, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def grade_ids(self) -> set[str]:
        return {cell.grade_id for cell in self.cells if cell.grade_id}


def as_python(source: str) -> str:
    """A cell's code as IPython runs it: ``%magic`` and ``!shell`` lines become ``get_ipython()`` calls
    (which fail on their own line while grading, as they do nothing there, instead of the whole cell)."""
    if not _MAGIC.search(source):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # IPython's transformers raise many things on odd input; the cell then fails to parse
        return source


def defined_names(source: str) -> set[str]:
    """Top-level names a piece of code defines (empty if it does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def load_submission(path: str | Path) -> Submission:
    """Read a notebook or script; never raises for a broken file, records the problem instead."""
    path = Path(path)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    text = raw.decode("utf-8", errors="replace")
    if path.suffix == ".py":
        return Submission(path=path, kind="script", digest=digest, cells=(Cell(path.name, text),))
    return _read_notebook(path, digest, text)


def _read_notebook(path: Path, digest: str, text: str) -> Submission:
    problems: list[str] = []
    try:
        cells = nbformat.reads(text, as_version=4).cells
    except Exception as exc:  # nbformat raises many types for bad input
        cells = salvage_cells(text)
        problems.append(f"the notebook is not valid JSON ({type(exc).__name__}); "
                        f"{len(cells)} complete cells were recovered from the file")
    found: list[Cell] = []
    seen: set[str] = set()
    above = "the start of the notebook"
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbgrader = metadata.get("nbgrader") if isinstance(metadata.get("nbgrader"), dict) else {}
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader.get("grade_id"), str) else None
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            if grade_id in seen:
                problems.append(f"graded cell '{grade_id}' appears more than once; every copy runs where it stands, "
                                "as in Jupyter")
            label = f"cell {grade_id}" if grade_id else f"a cell you added after {above}"
            found.append(Cell(label, as_python(source), grade_id))
        if grade_id:
            seen.add(grade_id)
            above = grade_id
    if not cells:
        problems.append("the notebook has no cells")
    return Submission(path=path, kind="notebook", digest=digest, cells=tuple(found), problems=tuple(problems))


def salvage_cells(text: str) -> list[dict]:
    """Complete cell objects found in a damaged notebook file, in order."""
    decoder = json.JSONDecoder()
    cells = []
    position = 0
    while match := _CELL_START.search(text, position):
        try:
            cell, end = decoder.raw_decode(text, match.start())
        except (json.JSONDecodeError, RecursionError):
            position = match.end()
            continue
        if isinstance(cell, dict):
            cells.append(cell)
        position = end
    return cells
