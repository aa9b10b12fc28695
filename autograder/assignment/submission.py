"""The one seam that reads a submission: its code per graded cell, and what is wrong with the file.

A notebook's code is found by the cells' nbgrader ``grade_id`` so that a student's extra
cells do not matter; a ``.py`` file (the notebook exported as a script) is searched for the
definitions by name.  Nothing here runs student code.
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

SCRIPT_KEY = "__script__"
_CELL_START = re.compile(r'\{\s*"cell_type"')


@dataclass(frozen=True)
class Submission:
    """What the grader knows of one submitted file."""

    path: Path
    kind: str  # "notebook" or "script"
    digest: str
    cells: dict[str, str] = field(default_factory=dict)
    code_cells: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    def code_for(self, grade_ids: tuple[str, ...], names: tuple[str, ...]) -> tuple[list[tuple[str, str]], list[str]]:
        """The (label, source) blocks holding a part's code, and the problems met finding them.

        A script contributes its whole text (definitions are picked out when it runs).  A
        notebook contributes the cells with the part's grade_ids; if one is missing, every
        code cell that defines one of the part's names stands in for it, with a problem noted.
        """
        if self.kind == "script":
            return [(self.path.name, self.cells.get(SCRIPT_KEY, ""))], []
        blocks = [(f"cell {gid}", self.cells[gid]) for gid in grade_ids if gid in self.cells]
        missing = [gid for gid in grade_ids if gid not in self.cells]
        if not missing:
            return blocks, []
        used = {source for _, source in blocks}
        stand_ins = [(f"code cell {index + 1}", source) for index, source in enumerate(self.code_cells)
                     if defined_names(source) & set(names) and source not in used]
        problems = [f"graded cell '{gid}' is missing (deleted, or its nbgrader metadata was changed)" for gid in missing]
        if stand_ins:
            problems.append("graded from other cells that define " + ", ".join(sorted(names)))
        return blocks + stand_ins, problems


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
        return Submission(path=path, kind="script", digest=digest, cells={SCRIPT_KEY: text})
    return _read_notebook(path, digest, text)


def _read_notebook(path: Path, digest: str, text: str) -> Submission:
    problems: list[str] = []
    try:
        cells = nbformat.reads(text, as_version=4).cells
    except Exception as exc:  # nbformat raises many types for bad input
        cells = salvage_cells(text)
        problems.append(f"the notebook is not valid JSON ({type(exc).__name__}); "
                        f"{len(cells)} complete cells were recovered from the file")
    by_id: dict[str, str] = {}
    code_cells: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        code_cells.append(source)
        grade_id = ((cell.get("metadata") or {}).get("nbgrader") or {}).get("grade_id")
        if not isinstance(grade_id, str):
            continue
        if grade_id in by_id:
            problems.append(f"graded cell '{grade_id}' appears more than once; the first copy is graded")
            continue
        by_id[grade_id] = source
    if not cells:
        problems.append("the notebook has no cells")
    return Submission(path=path, kind="notebook", digest=digest, cells=by_id,
                      code_cells=tuple(code_cells), problems=tuple(problems))


def salvage_cells(text: str) -> list[dict]:
    """Complete cell objects found in a damaged notebook file, in order."""
    decoder = json.JSONDecoder()
    cells = []
    position = 0
    while match := _CELL_START.search(text, position):
        try:
            cell, end = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            position = match.end()
            continue
        if isinstance(cell, dict):
            cells.append(cell)
        position = end
    return cells
