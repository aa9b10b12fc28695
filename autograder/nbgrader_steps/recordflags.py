"""Store the notebook's flags in the gradebook, after ``SaveAutoGrades``.

The gradebook has no column for "why"; it has ``SubmittedNotebook.flagged`` (the formgrader's
flag) and automatic comments on answer cells (shown in the formgrader and in the feedback).
So a flagged notebook gets ``flagged = True`` and the reasons as lines of the automatic comment
of its first answer cell.  ``SaveAutoGrades`` rewrites automatic comments on every run, so the
reasons of an earlier run never linger; the flag itself is only ever set, since a human may
have set it too.
"""
from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook
from nbgrader.preprocessors import NbGraderPreprocessor

from autograder.nbgrader_steps.flags import COMMENT_PREFIX, flags


class RecordFlags(NbGraderPreprocessor):
    """Flag the submitted notebook in the gradebook and say why, when grading met a problem."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        reasons = flags(resources)
        if not reasons:
            return nb, resources
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gradebook:
            submitted = gradebook.find_submission_notebook(info["notebook"], info["assignment"], info["student"])
            submitted.flagged = True
            cell = _first_answer_cell(gradebook, nb, info["notebook"], info["assignment"])
            if cell is not None:
                comment = gradebook.find_comment(cell, info["notebook"], info["assignment"], info["student"])
                kept = [line for line in (comment.auto_comment or "").splitlines() if not line.startswith(COMMENT_PREFIX)]
                comment.auto_comment = "\n".join(kept + [COMMENT_PREFIX + " ".join(r.split()) for r in reasons])
            else:
                self.log.warning("%s has no answer cell to hold the flags' reasons", info["notebook"])
            gradebook.db.commit()
        self.log.warning("flagged for review: %s", "; ".join(reasons))
        return nb, resources


def _first_answer_cell(gradebook: Gradebook, nb: NotebookNode, notebook: str, assignment: str) -> str | None:
    """The grade_id of the first answer (solution or task) cell: in the notebook, else in the master copy."""
    master = gradebook.find_notebook(notebook, assignment)
    commentable = {cell.name for cell in master.solution_cells} | {cell.name for cell in master.task_cells}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in commentable:
            return grade_id
    for cell in master.source_cells:
        if cell.name in commentable:
            return cell.name
    return None
