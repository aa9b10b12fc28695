"""The course notebook's provided code, read from ``source/`` (the one source of truth).

The grader trains and hooks the very classifier students run, so it takes that code from
the instructor notebook's locked cells by grade_id rather than keeping a copy.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

import nbformat

SOURCE_NOTEBOOK = Path(__file__).resolve().parent.parent / "source" / "transformer" / "transformer.ipynb"
PART_B_CELLS = ("buggy_layer", "partb_data", "partb_model", "partb_training")
PART_C_MAX_LENGTH = 128
PART_C_SETUP = f'''\
from autograder.hf_offline import offline_tokenizer
tokenizer = offline_tokenizer()
MAX_LENGTH = {PART_C_MAX_LENGTH}
'''


@cache
def _all_cells() -> dict[str, str]:
    notebook = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source
            for cell in notebook.cells if cell.cell_type == "code"}


def cells(grade_ids: tuple[str, ...]) -> dict[str, str]:
    """The sources of the given locked cells, in order; a missing one is a broken course, so it raises."""
    if not grade_ids:
        return {}
    available = _all_cells()
    missing = [gid for gid in grade_ids if gid not in available]
    if missing:
        raise LookupError(f"{SOURCE_NOTEBOOK} has no code cell with grade_id {', '.join(missing)}")
    return {gid: available[gid] for gid in grade_ids}


def namespace(grade_ids: tuple[str, ...], base: dict | None = None) -> dict:
    """Run course cells (trusted code) in a fresh namespace, for the grader's own reference runs."""
    from autograder.parts import PRELUDE, REFERENCE_ATTENTION

    scope: dict = dict(base or {})
    exec(compile(PRELUDE + REFERENCE_ATTENTION, "<prelude>", "exec"), scope)
    for grade_id, source in cells(grade_ids).items():
        exec(compile(source, f"<course cell {grade_id}>", "exec"), scope)
    return scope
