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
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.assignment import course

_CELL_START = re.compile(r'\{\s*"cell_type"')
_MAGIC = re.compile(r"^\s*[%!]", re.M)
# Magics that run their Python in the notebook's namespace, so that what it defines stays defined:
# the cell magics %%time and %%capture (their first line; the body follows), the line magic %time.
_RUNS_ITS_BODY = re.compile(r"\A\s*%%(?:time|capture)\b[^\n]*(?:\n|\Z)")
_TIME_LINE = re.compile(r"^(\s*)%time\s+(?=\S)", re.M)
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)  # a string (skipped whole) or a bracket
MAX_JSON_DEPTH = 64  # far deeper than any notebook's metadata; far below where Python's parser gives up


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
    (which fail on their own line while grading, as they do nothing there, instead of the whole cell),
    except magics that only time or capture Python, which run that Python."""
    if not _MAGIC.search(source):
        return source
    body = _RUNS_ITS_BODY.match(source)
    if body:
        return "\n" + as_python(source[body.end():])  # the body keeps its line numbers
    source = _TIME_LINE.sub(r"\1", source)
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
    parsed = parse_notebook(text)
    cells = parsed.cells
    problems: list[str] = []
    if parsed.replaced:
        problems.append(deep_json_problem(parsed.replaced))
    if parsed.error:
        problems.append(f"the notebook is not valid JSON ({parsed.error}); "
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
    found = _course_cells_recognised(found, seen)
    if not cells:
        problems.append("the notebook has no cells")
    return Submission(path=path, kind="notebook", digest=digest, cells=tuple(found), problems=tuple(problems))


def _course_cells_recognised(found: list[Cell], present: set[str]) -> list[Cell]:
    """Cells without metadata that are a provided or test cell word for word, named as that cell.

    Only where the notebook has no cell with that grade_id: a student's copy of a course cell next
    to the original stays the student's cell.
    """
    released = course.released_cells()
    recognised: list[Cell] = []
    for cell in found:
        grade_id = None if cell.grade_id else released.get(course.same_code(cell.source))
        if grade_id and grade_id not in present:
            present.add(grade_id)
            cell = Cell(f"cell {grade_id}", cell.source, grade_id)
        recognised.append(cell)
    return recognised


@dataclass(frozen=True)
class ParsedNotebook:
    """A notebook file's text as read: the notebook (None if it is not JSON), its cells, what was wrong."""

    notebook: nbformat.NotebookNode | None
    cells: list
    error: str | None = None   # why it is not JSON (the parser's exception); its cells were salvaged
    replaced: int = 0          # values nested deeper than MAX_JSON_DEPTH, read as null


def parse_notebook(text: str) -> ParsedNotebook:
    """Read a notebook file's text; never raises.

    Python's JSON parser gives up (RecursionError) on values nested a few thousand deep, which
    no notebook needs: those values are read as null, so the cells around them keep their code.
    What is still not JSON is salvaged cell by cell.
    """
    replaced = 0
    for attempt in range(2):
        try:
            with warnings.catch_warnings():  # e.g. cells without ids (older Jupyter): nothing the grade needs
                warnings.simplefilter("ignore")
                notebook = nbformat.reads(text, as_version=4)
            return ParsedNotebook(notebook, list(notebook.cells), replaced=replaced)
        except Exception as exc:  # nbformat raises many types for bad input
            error = type(exc).__name__
            if attempt == 0:
                text, replaced = flatten_deep_json(text)
                if not replaced:
                    break
    return ParsedNotebook(None, salvage_cells(text), error=error, replaced=replaced)


def deep_json_problem(replaced: int) -> str:
    """The flag of a notebook some of whose values were nested too deep (one wording for every front door)."""
    return (f"the notebook file holds JSON nested more than {MAX_JSON_DEPTH} levels deep ({replaced} "
            f"value{'s' if replaced != 1 else ''}), read as null; its cells were graded from their code")


def flatten_deep_json(text: str, limit: int = MAX_JSON_DEPTH) -> tuple[str, int]:
    """``text`` with every JSON array or object nested deeper than ``limit`` replaced by ``null``; how many were.

    One pass over the brackets outside strings, so its cost is linear in the file whatever the depth.
    """
    pieces: list[str] = []
    depth, start, kept_until, replaced = 0, -1, 0, 0
    for token in _JSON_TOKEN.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            if depth == limit + 1:
                start = token.start()
        elif mark in "]}" and depth > 0:
            if depth == limit + 1:
                pieces += [text[kept_until:start], "null"]
                kept_until, replaced = token.end(), replaced + 1
            depth -= 1
    if depth > limit:  # cut off inside a deep value: what follows it is inside it too
        pieces.append(text[kept_until:start])
        return "".join(pieces), replaced + 1
    pieces.append(text[kept_until:])
    return "".join(pieces), replaced


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
