"""Write the notebooks that break stock nbgrader's pipeline but hold honest code (issue 14, item 7).

Each is the release cut to Task 0 and Part A (the cells of the test course in
``tests/nbgrader_steps/nbgrader_course.py``) with the source's solutions filled in, then damaged
the way Jupyter or a student's editing damages a notebook: a graded cell pasted twice, nbgrader
metadata without a grade_id, a test cell flipped to a solution cell, a ``schema_version`` too new
or too old, and 100,000-deep nested JSON in a cell's metadata.  The honest code must still earn
its points (``expected.json``), with a flag.  ``leaves_processes_and_shm`` is honest code whose
kernel starts processes that leave its session, environment and tree, and writes to /dev/shm.

    .venv/bin/python tests/submissions/nbgrader_faults/make_faults.py   # rewrites the .ipynb files here

The deep-nested one is not stored (no tool but ours reads it: ruff would fail on it); tests
write it where they need it with :func:`deep_nested_text`.
"""
from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "notebooks"))
from make_notebooks import add_after, cell, index, plain  # noqa: E402

PART_A_CELLS = ("title", "task0_instructions", "task0_reflection", "setup_intro", "setup", "parta_intro", "sdpa",
                "test_sdpa", "mha_intro", "mha", "test_mha")
DEPTH = 100_000
DEEP_PLACEHOLDER = "@@deeply nested@@"
Notebook = nbformat.NotebookNode


def part_a() -> Notebook:
    notebook = plain()
    notebook.cells = [each for each in notebook.cells if each.metadata.get("nbgrader", {}).get("grade_id") in PART_A_CELLS]
    return notebook


def duplicated_test_cell(nb: Notebook) -> None:
    """Copy and paste of the test cell in Jupyter: two cells with grade_id test_sdpa."""
    pasted = copy.deepcopy(cell(nb, "test_sdpa"))
    pasted["id"] = "pasted-test-sdpa"
    nb.cells.insert(index(nb, "test_sdpa") + 1, pasted)


def no_grade_id(nb: Notebook) -> None:
    """The answer cell kept its nbgrader metadata but lost its grade_id (edited by hand)."""
    del cell(nb, "mha").metadata.nbgrader["grade_id"]


def test_cell_flipped_to_solution(nb: Notebook) -> None:
    """The cell toolbar's type changed from "Autograder tests" to "Autograded answer"."""
    cell(nb, "test_sdpa").metadata.nbgrader.update(solution=True, locked=False)


def schema_too_new(nb: Notebook) -> None:
    cell(nb, "sdpa").metadata.nbgrader["schema_version"] = 4


def schema_too_old(nb: Notebook) -> None:
    cell(nb, "test_mha").metadata.nbgrader["schema_version"] = 1


def edited_test_cell(nb: Notebook) -> None:
    """The student added a line to a (locked) test cell: nbgrader puts the course's back, and says so in its log."""
    cell(nb, "test_sdpa").source += "\nprint('my own check')\n"


LEFTOVER_SLEEPS = ("913.5", "913.75")  # `sleep` arguments of what leaves_processes_and_shm starts
SHM_PREFIX = "autograder-test-leftover-"
LEFTOVERS = f"""
import json, os, resource, subprocess, sys
if "ipykernel" in sys.modules:  # only in the student's kernel: this notebook tests what the kernel leaves behind
    subprocess.Popen(["sleep", "{LEFTOVER_SLEEPS[0]}"], env={{}}, start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.fork() == 0:  # a daemon: double fork, new session, no environment
        os.setsid()
        if os.fork() == 0:
            os.execve("/bin/sleep", ["sleep", "{LEFTOVER_SLEEPS[1]}"], {{}})
        os._exit(0)
    os.wait()
    with open("/dev/shm/{SHM_PREFIX}file", "w") as handle:
        handle.write("left behind")
    from multiprocessing import shared_memory
    kept = shared_memory.SharedMemory(name="{SHM_PREFIX}segment", create=True, size=4096)
    names = ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NPROC", "RLIMIT_NOFILE")
    print("LIMITS=" + json.dumps({{name: resource.getrlimit(getattr(resource, name)) for name in names}}))
"""


def leaves_processes_and_shm(nb: Notebook) -> None:
    """Honest code, plus a cell that starts processes that try to escape and leaves files in /dev/shm."""
    add_after(nb, "mha", LEFTOVERS)


def deep_nested_text() -> str:
    """clean.ipynb with a value nested 100,000 deep in the answer cell's metadata (Python cannot build it)."""
    notebook = part_a()
    cell(notebook, "sdpa").metadata["widget_state"] = DEEP_PLACEHOLDER
    return nbformat.writes(notebook, version=4).replace(json.dumps(DEEP_PLACEHOLDER), "[" * DEPTH + "]" * DEPTH)


VARIANTS: dict[str, Callable[[Notebook], None]] = {
    "clean": lambda nb: None,
    "duplicated_test_cell": duplicated_test_cell,
    "no_grade_id": no_grade_id,
    "test_cell_flipped_to_solution": test_cell_flipped_to_solution,
    "schema_too_new": schema_too_new,
    "schema_too_old": schema_too_old,
    "leaves_processes_and_shm": leaves_processes_and_shm,
    "edited_test_cell": edited_test_cell,
}


def main() -> None:
    for name, change in VARIANTS.items():
        notebook = part_a()
        change(notebook)
        for position, each in enumerate(notebook.cells):  # added cells need ids, as Jupyter gives them
            each.setdefault("id", f"{name[:20]}-{position}")
        nbformat.validate(notebook)
        nbformat.write(notebook, HERE / f"{name}.ipynb", version=4)


if __name__ == "__main__":
    main()
