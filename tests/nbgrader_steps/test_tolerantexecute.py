"""How the tolerant execution names the cell where the kernel stopped: so an instructor can find it."""
from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from autograder.nbgrader_steps.tolerantexecute import TolerantExecute


def _cell(grade_id: str | None = None) -> nbformat.NotebookNode:
    cell = new_code_cell("x = 1")
    if grade_id:
        cell.metadata["nbgrader"] = {"grade_id": grade_id, "solution": True, "grade": False, "locked": False,
                                     "schema_version": 3}
    return cell


def test_a_stopped_cell_is_named_by_its_grade_id_or_the_graded_cell_before_it():
    step = TolerantExecute()
    step.nb = new_notebook(cells=[_cell(), _cell("sdpa"), _cell("test_mha"), _cell(), _cell()])
    assert step._where(step.nb.cells[1], 1) == "cell 2 (sdpa)"
    assert step._where(step.nb.cells[4], 4) == "cell 5 (a cell the student added after test_mha)"
    assert step._where(step.nb.cells[0], 0) == "cell 1 (a cell the student added before the first graded cell)"
