"""Read a submitted notebook that is not a valid notebook file, instead of giving up on it.

nbgrader reads each submission with ``nbformat.read``; a file that is not JSON (cut off by an
upload, edited by hand, a merge conflict, nested too deep for Python's parser) raises, and that
student gets nothing in the gradebook, which ends as a silent 0.  This exporter (``c.Autograde.exporter_class``) reads such
a file as well as it can: the complete cells found in it, rebuilt as valid cells, the same
way the engine's :mod:`autograder.assignment.submission` recovers them.  The sanitize steps then restore
the course's locked and test cells as for any submission, and the reason travels in the
notebook's metadata to :class:`TrustedVerdicts`, which flags the notebook.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbconvert.exporters import NotebookExporter
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from autograder.assignment.submission import deep_json_problem, parse_notebook
from autograder.nbgrader_steps.flags import SALVAGE_METADATA_KEY

_CELL_FACTORIES = {"code": new_code_cell, "markdown": new_markdown_cell, "raw": new_raw_cell}


class SalvagingNotebookExporter(NotebookExporter):
    """nbconvert's NotebookExporter, except that a damaged notebook file is salvaged, not fatal."""

    def from_file(self, file_stream: Any, resources: dict | None = None, **kw: Any) -> tuple[str, dict]:
        nb, problem = read_notebook(_read_text(file_stream))
        if self._reads_submission(resources):
            nb.metadata.pop(SALVAGE_METADATA_KEY, None)  # only we may say that a file was damaged
            if problem:
                nb.metadata[SALVAGE_METADATA_KEY] = problem
        if problem:
            self.log.warning("%s: %s", (resources or {}).get("metadata", {}).get("name", "notebook"), problem)
        return self.from_notebook_node(nb, resources=resources, **kw)

    def _reads_submission(self, resources: dict | None) -> bool:
        """Whether this read is of a student's file (nbgrader's first pass), not of our own sanitized copy."""
        coursedir = getattr(self.parent, "coursedir", None)
        folder = (resources or {}).get("metadata", {}).get("path")
        if coursedir is None or not folder:
            return True
        submitted = Path(coursedir.root, coursedir.submitted_directory).resolve()
        return Path(folder).resolve().is_relative_to(submitted)


def read_notebook(text: str) -> tuple[NotebookNode, str | None]:
    """The notebook in ``text`` and None; or, if it is damaged, what could be recovered and why."""
    parsed = parse_notebook(text)
    deep = [deep_json_problem(parsed.replaced)] if parsed.replaced else []
    if parsed.notebook is None:
        cells = [cell for cell in map(_rebuild_cell, parsed.cells) if cell is not None]
        return new_notebook(cells=cells), "; ".join(deep + [
            f"the notebook file is not valid JSON ({parsed.error}); it was graded from the "
            f"{len(cells)} complete cells recovered from it"])
    nb = parsed.notebook
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        cells = [cell for cell in map(_rebuild_cell, nb.get("cells") or []) if cell is not None]
        return new_notebook(cells=cells, metadata=_plain_dict(nb.get("metadata"))), "; ".join(deep + [
            f"the notebook file does not follow the notebook format ({' '.join(str(exc.message).split())[:200]}); "
            f"it was graded from the {len(cells)} readable cells in it"])
    return nb, "; ".join(deep) or None


def _rebuild_cell(cell: Any) -> NotebookNode | None:
    """A valid v4 cell with the source and nbgrader metadata of a raw cell dict (its outputs dropped)."""
    if not isinstance(cell, dict) or cell.get("cell_type") not in _CELL_FACTORIES:
        return None
    source = cell.get("source", "")
    source = "".join(str(line) for line in source) if isinstance(source, list) else str(source)
    metadata = _plain_dict(cell.get("metadata"))
    if not isinstance(metadata.get("nbgrader", {}), dict):
        metadata.pop("nbgrader")
    return _CELL_FACTORIES[cell["cell_type"]](source=source, metadata=metadata)


def _plain_dict(value: Any) -> dict:
    return dict(value) if isinstance(value, dict) else {}


def _read_text(file_stream: Any) -> str:
    """The file's text; bytes that are not UTF-8 are replaced rather than refused."""
    try:
        return file_stream.read()
    except UnicodeDecodeError:
        file_stream.buffer.seek(0)
        return file_stream.buffer.read().decode("utf-8", errors="replace")
