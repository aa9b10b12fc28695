"""Similarity flags: a disguised copy is flagged; independently written code and the release's stubs are not."""
from __future__ import annotations

import ast
import builtins
import shutil
from pathlib import Path

import nbformat

from autograder.reporting.similarity import (
    DEFAULT_THRESHOLD,
    RELEASE_NOTEBOOK,
    all_scores,
    similar_pairs,
    similarity_flags,
    student_code,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples" / "submitted"
PART_A = ROOT / "tests" / "submissions" / "part_a"
# Written independently of each other and of the samples (the other ok_*.py share one MultiHeadAttention).
INDEPENDENT = ("ok_einsum", "ok_bmm_fused_qkv", "ok_f_sdpa_bool_reshape")
KEPT = set(dir(builtins)) | {"self", "torch", "nn", "F", "math", "np"}


class Rename(ast.NodeTransformer):
    """Every variable, argument and function renamed, as a student hiding a copy would."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def new(self, name: str) -> str:
        return name if name in KEPT else self.names.setdefault(name, f"my_{len(self.names)}_{name[::-1]}")

    def visit_Name(self, node: ast.Name) -> ast.Name:
        node.id = self.new(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.arg = self.new(node.arg)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        if not node.name.startswith("__"):
            node.name = self.new(node.name)
        self.generic_visit(node)
        return node


def disguised(code: str) -> str:
    """``code`` with its names renamed, its functions in the opposite order, reformatted and without comments."""
    tree = Rename().visit(ast.parse(code))
    tree.body.reverse()
    return ast.unparse(tree)


def sample(name: str) -> Path:
    return SAMPLES / name / "transformer" / "transformer.ipynb"


def test_a_renamed_and_reordered_copy_is_flagged(tmp_path: Path) -> None:
    copy = tmp_path / "copy.py"
    copy.write_text(disguised((PART_A / "ok_einsum.py").read_text()))
    others = {name: PART_A / f"{name}.py" for name in INDEPENDENT}
    pairs = similar_pairs({**others, "copy": copy})
    assert [(a, b) for a, b, _ in pairs] == [("copy", "ok_einsum")]
    assert pairs[0][2] >= DEFAULT_THRESHOLD


def test_a_copied_notebook_with_renamed_names_in_other_cells_is_flagged(tmp_path: Path) -> None:
    notebook = nbformat.read(sample("bob"), as_version=4)
    answers = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution")]
    moved = answers[0].source
    answers[0].source = "# YOUR CODE HERE\n"  # the first function moves to a cell of its own at the end
    for cell in answers[1:]:
        cell.source = disguised(cell.source)
    notebook.cells.append(nbformat.v4.new_code_cell(disguised(moved)))
    nbformat.write(notebook, tmp_path / "copy.ipynb")
    pairs = similar_pairs({"bob": sample("bob"), "alice": sample("alice"), "copy": tmp_path / "copy.ipynb"})
    assert [(a, b) for a, b, _ in pairs] == [("bob", "copy")]


def test_one_function_copied_into_an_otherwise_empty_notebook_is_flagged(tmp_path: Path) -> None:
    notebook = nbformat.read(RELEASE_NOTEBOOK, as_version=4)
    theirs = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nbformat.read(sample("bob"), as_version=4).cells
              if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "mha":
            cell.source = disguised(theirs["mha"])
    nbformat.write(notebook, tmp_path / "copy.ipynb")
    pairs = similar_pairs({"bob": sample("bob"), "copy": tmp_path / "copy.ipynb"})
    assert [(a, b) for a, b, _ in pairs] == [("bob", "copy")]


def test_independently_written_code_is_not_flagged() -> None:
    files = {name: PART_A / f"{name}.py" for name in INDEPENDENT} | {"bob": sample("bob"), "alice": sample("alice")}
    scores = all_scores(files)
    assert len(scores) == 10 and not similar_pairs(files), scores
    assert max(score for *_, score in scores) < 0.75  # measured: at most 0.62 (see the README)


def test_the_bundled_samples_copied_from_alice_are_flagged_and_bob_is_not() -> None:
    pairs = similar_pairs({name: sample(name) for name in ("alice", "bob", "carol", "erin")})
    assert {(a, b) for a, b, _ in pairs} == {("alice", "carol"), ("alice", "erin"), ("carol", "erin")}


def test_the_release_stubs_are_not_the_students_code(tmp_path: Path) -> None:
    """Two students who hand in the untouched release share all of it, and none of it is theirs."""
    for name in ("a", "b"):
        shutil.copy(RELEASE_NOTEBOOK, tmp_path / f"{name}.ipynb")
    code = student_code(tmp_path / "a.ipynb")
    assert "raise NotImplementedError" in code and "class BuggyTransformerEncoderLayer" not in code  # a provided cell
    assert all_scores({"a": tmp_path / "a.ipynb", "b": tmp_path / "b.ipynb"}) == []


def test_the_flag_names_the_partner_and_the_score() -> None:
    flags = similarity_flags([("ann", "ben", 0.973)])
    assert flags == {"ann": ["similar code to ben: similarity 0.97 (winnowed fingerprints of the code each wrote)"],
                     "ben": ["similar code to ann: similarity 0.97 (winnowed fingerprints of the code each wrote)"]}
