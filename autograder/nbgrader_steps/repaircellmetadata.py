"""Make every cell's nbgrader metadata what the course says it is, first in the sanitize pass.

Stock nbgrader trusts the metadata the student's file carries, and small accidents in it end
badly: a graded cell pasted twice, or nbgrader metadata without a ``grade_id``, raise a
``KeyError`` in ``OverwriteCells`` (that student gets nothing, unflagged); a ``schema_version``
other than the course's raises ``SchemaTooOldError``/``SchemaTooNewError``, which stops
``nbgrader autograde`` for every student after this one; a test cell flipped to a solution
cell is no longer graded.  The gradebook holds the master copy of every cell, so this step
reads each cell's kind from there instead and flags the notebook when the file said otherwise:

- a cell whose ``grade_id`` the course knows gets the course's metadata for it (kind, points,
  ``schema_version``) when its own differs, is invalid or is not an object;
- of a ``grade_id`` that appears more than once, the last copy keeps it (the definition a
  kernel keeps, as nbgrader's ``DeduplicateIds`` chooses); earlier copies of the student's
  answer cells stay as ordinary cells (they run where they stand, as in Jupyter and in the
  engine), earlier copies of locked cells (the course's own code) are left out;
- nbgrader metadata without a known ``grade_id`` is removed: the cell is ordinary code.

The code is graded as it stands either way; what the metadata no longer says, the later
sanitize steps restore (``RestoreMissingCells`` puts back a test cell that lost its identity).
The reasons travel in the notebook's metadata to the autograde pass (see :mod:`.flags`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.api import Gradebook
from nbgrader.nbgraderformat import SCHEMA_VERSION, MetadataValidator
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.nbgrader_steps.flags import carry_flags

_CHECKSUM_LENGTH = 32


@dataclass(frozen=True)
class _Kind:
    """What the course says one cell is."""

    grade: bool
    solution: bool
    locked: bool
    task: bool
    points: float | None
    cell_type: str


class RepairCellMetadata(NbGraderPreprocessor):
    """Give every cell the nbgrader metadata of the course's cell with its grade_id; flag what differed."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            kinds = _course_kinds(gradebook, info["notebook"], info["assignment"])
        reasons: list[str] = []
        last: dict[str, int] = {}
        copies: Counter[str] = Counter()
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                continue
            grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
            if isinstance(grade_id, str) and grade_id in kinds:
                last[grade_id] = index
                copies[grade_id] += 1
                continue
            del cell.metadata["nbgrader"]
            if not isinstance(meta, dict) or any(meta.get(key) for key in ("grade", "solution", "locked", "task")):
                which = (f"with the grade_id {_shown(grade_id)}, which this course does not have"
                         if grade_id is not None else "without a grade_id")
                reasons.append(f"cell {index + 1} has nbgrader metadata {which}: it was graded as an ordinary "
                               "cell of the student's")
        kept = []
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader")
            if meta is None:
                kept.append(cell)
                continue
            grade_id, kind = meta["grade_id"], kinds[meta["grade_id"]]
            if last[grade_id] != index:
                del cell.metadata["nbgrader"]
                if not kind.locked:
                    kept.append(cell)
                continue
            problem = _difference(cell, meta, kind)
            if problem:
                reasons.append(f"cell {grade_id}: {problem}; it was graded as the course's {_name(kind)}")
                cell.metadata["nbgrader"] = _metadata(grade_id, kind, meta.get("checksum"))
            kept.append(cell)
        for grade_id in sorted(grade_id for grade_id, count in copies.items() if count > 1):
            kind = kinds[grade_id]
            rest = ("the course's own code, were left out" if kind.locked
                    else "ran where they stand, as ordinary cells")
            reasons.append(f"graded cell '{grade_id}' appears more than once: the last copy was graded as "
                           f"{grade_id}; the others, {rest}")
        nb.cells = kept
        for reason in reasons:
            self.log.warning("%s", reason)
        carry_flags(nb, reasons)
        return nb, resources


def _course_kinds(gradebook: Gradebook, notebook: str, assignment: str) -> dict[str, _Kind]:
    master = gradebook.find_notebook(notebook, assignment)
    points = {cell.name: float(cell.max_score) for cell in master.grade_cells}
    solutions = {cell.name for cell in master.solution_cells}
    tasks = {cell.name for cell in master.task_cells}
    return {cell.name: _Kind(grade=cell.name in points, solution=cell.name in solutions, locked=bool(cell.locked),
                             task=cell.name in tasks, points=points.get(cell.name), cell_type=cell.cell_type)
            for cell in master.source_cells}


def _difference(cell: NotebookNode, meta: dict, kind: _Kind) -> str | None:
    """What is wrong with a cell's nbgrader metadata, given what the course says the cell is (None: nothing)."""
    version = meta.get("schema_version")
    if version != SCHEMA_VERSION:
        return f"its nbgrader schema_version is {_shown(version)} (this course's nbgrader reads {SCHEMA_VERSION})"
    try:
        MetadataValidator().validate_cell(cell)
    except Exception as exc:  # jsonschema's and nbgrader's validation errors, or a type error on odd values
        return f"its nbgrader metadata is invalid ({' '.join(str(getattr(exc, 'message', exc)).split())[:120]})"
    actual = (bool(meta.get("grade")), bool(meta.get("solution")), utils.is_locked(cell), bool(meta.get("task")))
    if actual != (kind.grade, kind.solution, kind.locked, kind.task):
        return f"its nbgrader metadata makes it a {_name_of(*actual)}"
    if kind.grade and float(meta.get("points", -1)) != kind.points:
        return f"its nbgrader metadata gives it {meta.get('points')!r} points instead of {kind.points:g}"
    return None


def _metadata(grade_id: str, kind: _Kind, checksum: object) -> dict:
    meta = {"grade_id": grade_id, "grade": kind.grade, "solution": kind.solution, "locked": kind.locked,
            "task": kind.task, "schema_version": SCHEMA_VERSION, "cell_type": kind.cell_type}
    if kind.grade:
        meta["points"] = kind.points
    if isinstance(checksum, str) and len(checksum) == _CHECKSUM_LENGTH:
        meta["checksum"] = checksum
    return meta


def _name(kind: _Kind) -> str:
    return _name_of(kind.grade, kind.solution, kind.locked, kind.task)


def _name_of(grade: bool, solution: bool, locked: bool, task: bool) -> str:
    if task:
        return "task cell"
    if grade and not solution:
        return "test cell"
    if solution:
        return "graded answer cell" if grade else "answer cell"
    return "read-only cell" if locked else "ordinary cell"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
