"""The release on Colab (issue 17): a GPU when there is one, every Part B tensor on it, Part C on its own.

No GPU here, so what can be tested is tested: the setup cell's device choice with CUDA absent and
with a fake CUDA check, that every model and every batch the provided Part B cells build goes to
``device``, and that Part C's last cell runs after a restart that skipped Part B.
"""
from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest
import torch

RELEASE = Path(__file__).resolve().parents[2] / "release" / "transformer" / "transformer.ipynb"
PART_B_RUNS = ("run_buggy", "run_hook", "run_fixed", "partb_training")


def _cells() -> dict[str, str]:
    notebook = nbformat.read(RELEASE, as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("grade_id")}


def _device_line() -> str:
    lines = [line for line in _cells()["setup"].splitlines() if line.startswith("device =")]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("cuda, expected", [(False, "cpu"), (True, "cuda")])
def test_the_setup_cell_uses_a_gpu_when_there_is_one(monkeypatch, cuda, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    scope = {"torch": torch}
    exec(_device_line(), scope)
    assert scope["device"].type == expected


def _on_device(expr: ast.AST) -> bool:
    """``expr`` is ``something.to(device)``."""
    return (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) and expr.func.attr == "to"
            and any(isinstance(arg, ast.Name) and arg.id == "device" for arg in expr.args))


@pytest.mark.parametrize("grade_id", PART_B_RUNS)
def test_every_part_b_model_and_batch_goes_to_the_device(grade_id):
    """Each classifier built, and each batch fed to a model, is moved with .to(device)."""
    tree = ast.parse(_cells()[grade_id])
    moved = {id(node.func.value) for node in ast.walk(tree) if _on_device(node)}
    assigned = {}
    for node in (node for node in ast.walk(tree) if isinstance(node, ast.Assign)):
        for target in node.targets:
            if isinstance(target, ast.Name):
                assigned[target.id] = node.value
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                assigned.update((t.id, v) for t, v in zip(target.elts, node.value.elts) if isinstance(t, ast.Name))
    built = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id == "SentimentClassifier"]
    for call in built:
        assert id(call) in moved, f"{grade_id}, line {call.lineno}: a classifier not moved to device"
    fed = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
           and node.func.id in {"model", "debug_model", "buggy_model", "fixed_model"}]
    for call in fed:
        for arg in call.args:
            value = assigned.get(arg.id) if isinstance(arg, ast.Name) else arg
            assert value is not None and _on_device(value), f"{grade_id}, line {call.lineno}: a batch not on device"
    assert built or fed or grade_id == "run_buggy", f"{grade_id} builds or runs no model: the test looks at nothing"


def test_part_c_ends_without_part_b():
    """After a Colab disconnect Part B's ``fixed_history`` is gone: Part C's last lines must not need it."""
    tree = ast.parse(_cells()["hf_train"])
    training = next(node for node in tree.body if isinstance(node, ast.If))
    ending = ast.Module(body=training.orelse[-3:], type_ignores=[])
    printed: list[str] = []
    scope = {"trainer": type("Trainer", (), {"evaluate": lambda self: {"eval_accuracy": 0.8}})(),
             "print": lambda *args: printed.append(" ".join(map(str, args)))}
    exec(compile(ending, "<hf_train>", "exec"), scope)
    assert printed == ["Final test accuracy (Hugging Face): 0.8000"]
    scope["fixed_history"] = {"heldout_acc": [0.6]}
    exec(compile(ending, "<hf_train>", "exec"), scope)
    assert printed[-1] == "Part B, fixed encoder from scratch: held-out accuracy 0.6000"
