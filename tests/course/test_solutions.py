"""The committed instructor solutions are what the source notebook produces, run in full."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "source" / "transformer" / "transformer.ipynb"
SOLUTION = ROOT / "solutions" / "transformer" / "transformer.ipynb"
REGENERATE = "regenerate them with `bash scripts/make_solutions.sh` and commit solutions/"

pytestmark = pytest.mark.skipif(not SOLUTION.exists(), reason="solutions/ not generated yet")


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def test_solution_cells_match_the_source() -> None:
    source = {_grade_id(c): c.source for c in nbformat.read(SOURCE, as_version=4).cells}
    solution = {_grade_id(c): c.source for c in nbformat.read(SOLUTION, as_version=4).cells if _grade_id(c)}
    stale = sorted(gid for gid in source if solution.get(gid) != source[gid])
    assert not stale, f"solutions/ is out of date with source/ in cells {stale}: {REGENERATE}"


def test_solution_ran_top_to_bottom_with_the_real_training() -> None:
    cells = nbformat.read(SOLUTION, as_version=4).cells
    code = [c for c in cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"not every code cell ran, in order: {counts}"
    definitions_only = {"sdpa", "mha", "buggy_layer", "partb_data", "partb_model", "partb_training",
                        "attention_hook", "fixed_encoder", "tokenize_fn", "compute_metrics"}
    silent = [_grade_id(c) for c in code if not c.get("outputs") and _grade_id(c) not in definitions_only]
    assert not silent, f"code cells that should print or plot but have no output: {silent}"
    errors = [_grade_id(c) for c in code for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"cells that raised: {errors}"
    text = "\n".join(o.get("text", "") for c in code for o in c.get("outputs", []) if o.output_type == "stream")
    assert "Skipped while grading" not in text, "the solutions were made with the grading shortcut"
    assert "[FAIL]" not in text, "a check failed on the instructor's own solution"
    assert "Final test accuracy (Hugging Face)" in text
    figures = sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))
    assert figures >= 3, f"expected the attention maps and training curves, found {figures} figures"


def test_html_export_and_grading_guide_are_present_and_current() -> None:
    assert SOLUTION.with_suffix(".html").exists(), f"no HTML export: {REGENERATE}"
    expected = subprocess.run([sys.executable, str(ROOT / "scripts" / "grading_guide.py"), str(SOURCE)],
                              capture_output=True, text=True, check=True).stdout
    assert (ROOT / "solutions" / "GRADING.md").read_text() == expected, f"GRADING.md is stale: {REGENERATE}"
