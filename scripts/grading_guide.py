"""Print the grading guide (markdown): every manually graded cell's question, model answer and rubric.

The rubrics live in the source notebook's answer cells, which nbgrader keeps out of the release
and shows graders in the formgrader; this collects them in one document.
"""
from __future__ import annotations

import sys

import nbformat


def grading_guide(path: str) -> str:
    cells = nbformat.read(path, as_version=4).cells
    manual = [(index, cell) for index, cell in enumerate(cells)
              if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "markdown"]
    autograded = sum(cell.metadata["nbgrader"].get("points", 0) for cell in cells
                     if cell.metadata.get("nbgrader", {}).get("grade") and cell.cell_type == "code")
    by_hand = sum(cell.metadata["nbgrader"]["points"] for _, cell in manual)
    lines = ["# Grading guide", "",
             f"Automatic: {autograded:g} points. By hand: {by_hand:g} points (below). Total: {autograded + by_hand:g}.",
             "Generated from `source/transformer/transformer.ipynb` by `scripts/grading_guide.py`.", ""]
    for index, cell in manual:
        meta = cell.metadata["nbgrader"]
        question = cells[index - 1].source if index and cells[index - 1].cell_type == "markdown" else ""
        lines += [f"## `{meta['grade_id']}` ({meta['points']:g} points)", "", "### Question", "",
                  question.strip(), "", "### Model answer and rubric", "", cell.source.strip(), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(grading_guide(sys.argv[1]))
