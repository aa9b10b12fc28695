"""The course notebook's provided code, read from ``source/`` (the one source of truth).

The grader trains and hooks the very classifier students run, so it takes that code from
the instructor notebook's locked cells by grade_id rather than keeping a copy.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import nbformat

SOURCE_NOTEBOOK = Path(__file__).resolve().parents[2] / "source" / "transformer" / "transformer.ipynb"
PRELUDE = '''\
import math
import random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
device = torch.device("cpu")

def set_seed(seed=42):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
'''
REFERENCE_ATTENTION = "from autograder.assignment.reference import scaled_dot_product_attention, MultiHeadAttention\n"
PART_B_CELLS = ("buggy_layer", "partb_data", "partb_model", "partb_training")
PART_C_MAX_LENGTH = 128
PART_C_SETUP = f'''\
from autograder.assignment.offline_model import offline_tokenizer
tokenizer = offline_tokenizer()
MAX_LENGTH = {PART_C_MAX_LENGTH}
'''


@cache
def _source_cells() -> tuple[nbformat.NotebookNode, ...]:
    return tuple(cell for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells if cell.cell_type == "code")


@cache
def _all_cells() -> dict[str, str]:
    return {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source for cell in _source_cells()}


@cache
def provided_cells() -> frozenset[str]:
    """The grade_ids of the code cells that are not the student's to write: provided cells and test cells.

    A submitted cell with one of these ids is never run as the student's code (our copy runs
    instead, if the part needs it), even if its metadata was edited to make it an answer cell.
    """
    return frozenset(cell.metadata["nbgrader"]["grade_id"] for cell in _source_cells()
                     if not cell.metadata.get("nbgrader", {}).get("solution"))


_HIDDEN_TESTS = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[ \t]*\n?", re.S | re.M)


def same_code(source: str) -> str:
    """A cell's code as compared with the course's: trailing spaces and blank lines at either end don't count."""
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


@cache
def released_cells() -> dict[str, str]:
    """The provided and test cells as the release shows them (``same_code`` form, hidden tests removed) -> grade_id.

    A notebook saved by an editor that drops cell metadata (Colab can) still holds the course's
    cells word for word, so they can be told from the student's own.
    """
    return {same_code(_HIDDEN_TESTS.sub("", cell.source)): cell.metadata["nbgrader"]["grade_id"]
            for cell in _source_cells()
            if cell.metadata.get("nbgrader", {}).get("grade_id") in provided_cells()}


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
    scope: dict = dict(base or {})
    exec(compile(PRELUDE + REFERENCE_ATTENTION, "<prelude>", "exec"), scope)
    for grade_id, source in cells(grade_ids).items():
        exec(compile(source, f"<course cell {grade_id}>", "exec"), scope)
    return scope
