"""Every check the engine runs: each module of this package registers its own (see :mod:`.registry`).

``ALL_CHECKS`` lists them part by part (in the order of ``PARTS``) and, within a part, in the
notebook's order of test cells, then in the order each module declares them.
"""
import importlib
import pkgutil

from autograder.assignment.parts import PARTS
from autograder.checks.registry import REGISTRY, Check, Student
from autograder.errors import CheckFailed

TEST_CELLS = ("test_sdpa", "test_mha", "test_attention_hook", "test_fixed_encoder", "test_fixed_learning", "test_partc")

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

_PART_ORDER = {part.tag: index for index, part in enumerate(PARTS)}
ALL_CHECKS: tuple[Check, ...] = tuple(sorted(
    REGISTRY, key=lambda entry: (_PART_ORDER[entry.part], TEST_CELLS.index(entry.test_cell))))

__all__ = ["ALL_CHECKS", "Check", "CheckFailed", "Student"]
