"""The package keeps the shape ARCHITECTURE.md describes: no import cycles, no reaching into another
module's private names, small modules, a lint-clean tree, and an index whose file names exist."""
from __future__ import annotations

import ast
import graphlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "autograder"
MAX_LINES = 450


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import of our package in ``path``, at any depth (lazy imports count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names if alias.name.split(".")[0] == "autograder"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "autograder":
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports; ``from package import module`` is an edge to the module."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        for module, names in imported(path):
            targets = {f"{module}.{item}" for item in names if f"{module}.{item}" in MODULES}
            if len(targets) < len(names) or not names:
                targets.add(module)
            graph[name] |= {target for target in targets if target != name}
    return graph


def test_the_import_graph_has_no_cycle() -> None:
    try:
        graphlib.TopologicalSorter(import_graph()).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")


def test_the_cycle_check_finds_a_cycle() -> None:
    graph = import_graph()
    graph["autograder.assignment.course"].add("autograder.assignment.parts")  # parts imports course
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(graph).prepare()


def test_no_module_imports_private_names_of_another() -> None:
    offenders = [f"{name}: from {module} import {item}" for name, path in MODULES.items()
                 for module, names in imported(path) for item in names
                 if item.startswith("_") and not item.startswith("__") and module != name]
    assert not offenders, "\n".join(offenders)


def test_modules_are_small() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in MODULES.items()}
    assert not {name: lines for name, lines in sizes.items() if lines > MAX_LINES}


def test_architecture_index_names_files_that_exist() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    index = text.split("\n## ", 2)[1]
    assert index.startswith("Where to look")
    named = re.findall(r"`((?:autograder|tests|scripts|benchmarks)/[\w/.]+)`", index)
    assert len(named) >= 3, index
    missing = [name for name in named if not (ROOT / name).exists()]
    assert not missing, missing


def test_the_tree_passes_the_linter() -> None:
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
