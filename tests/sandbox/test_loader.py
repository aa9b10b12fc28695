"""What a student sees of an exception raised in their code: their frames, no path of the grading machine."""
from __future__ import annotations

import sys

import torch

from autograder.sandbox.child.loader import student_traceback
from autograder.sandbox.shared import PROJECT_ROOT


def _raised_in_a_cell() -> BaseException:
    namespace = {"torch": torch}
    source = "def forward(x):\n    return torch.softmax(x, dim=5)\n"
    exec(compile(source, "<cell 'sdpa', your code>", "exec"), namespace)
    try:
        namespace["forward"](torch.zeros(2, 3))
    except Exception as exc:
        return exc
    raise AssertionError("no exception")


def test_the_traceback_keeps_the_cells_frames_and_drops_the_machines_paths():
    text = student_traceback(_raised_in_a_cell())
    assert "<cell 'sdpa', your code>\", line 2, in forward" in text
    assert text.rstrip().splitlines()[-1].startswith("IndexError: Dimension out of range")
    for path in (sys.prefix, sys.base_prefix, PROJECT_ROOT):
        assert path not in text


def test_paths_in_the_message_are_named_not_shown():
    text = student_traceback(FileNotFoundError(f"{sys.prefix}/lib/secret.py and {PROJECT_ROOT}/x"))
    assert text == "FileNotFoundError: <python>/lib/secret.py and <grader>/x"
