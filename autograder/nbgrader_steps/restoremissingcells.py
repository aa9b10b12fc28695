"""nbgrader's ``OverwriteCells`` that also puts back graded cells missing from the submission.

A test cell that is not in the notebook gets no score from ``SaveAutoGrades``: a student who
deleted one, or a damaged file that lost its end, would keep the engine's verdict for it out
of the gradebook.  nbgrader can re-add missing grade cells (``add_missing_cells``), but it
places each one after its predecessor in the master notebook and fails with a ``KeyError``
when that predecessor is a read-only cell (here: ``test_attention_hook`` follows ``run_hook``).
This version places a missing cell after the nearest earlier master cell the notebook still
has, or first if there is none.

It also warns "Attribute 'checksum' ... has changed!" only for a locked cell the student
changed.  The master copy of a test cell holds its hidden tests, which the released copy does
not, so stock nbgrader warns for every test cell with hidden tests on every autograde; a cell
still as released (its own checksum says so) only gets its hidden tests back.
"""
from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import OverwriteCells
from traitlets import Bool


class RestoreMissingCells(OverwriteCells):
    """Overwrite locked and test cells from the gradebook, and put back the graded cells that are missing."""

    _as_released = False  # whether the cell being overwritten is still as it was released

    add_missing_cells = Bool(
        True,
        help="Put graded (and task) cells missing from the submission back, from the master copy in the gradebook.",
    ).tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        released = cell.metadata.get("nbgrader", {}).get("checksum")
        self._as_released = released is not None and released == utils.compute_checksum(cell)
        return super().preprocess_cell(cell, resources, index)

    def report_change(self, name: str, attr: str, old: object, new: object) -> None:
        if attr == "checksum" and self._as_released:
            self.log.debug("cell %s is as released: putting back its hidden tests", name)
            return
        super().report_change(name, attr, old, new)

    def add_missing_grade_cells(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        master = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [cell.name for cell in master.source_cells]
        source_cells = dict(zip(order, master.source_cells))
        solution_ids = {cell.name for cell in master.solution_cells}
        for grade_cell in sorted(master.grade_cells, key=lambda cell: _position(order, cell.name)):
            present = _grade_id_positions(nb)
            if grade_cell.name in present or grade_cell.name not in source_cells:
                continue
            self.log.warning("graded cell %s is missing from the submission: putting it back", grade_cell.name)
            earlier = [name for name in order[:_position(order, grade_cell.name)] if name in present]
            where = present[earlier[-1]] + 1 if earlier else 0
            nb.cells.insert(where, self.missing_cell_transform(source_cells[grade_cell.name], grade_cell.max_score,
                                                                is_solution=grade_cell.name in solution_ids))
        return nb, resources


def _position(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def _grade_id_positions(nb: NotebookNode) -> dict[str, int]:
    positions = {}
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id and grade_id not in positions:
            positions[grade_id] = index
    return positions
