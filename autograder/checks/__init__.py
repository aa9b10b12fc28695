"""Every check the engine runs: each module of this package registers its own."""
import importlib
import pkgutil

from autograder.checks.base import REGISTRY, Check, Student
from autograder.errors import CheckFailed
from autograder.assignment.parts import PARTS

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

_PART_ORDER = {part.tag: index for index, part in enumerate(PARTS)}
ALL_CHECKS: tuple[Check, ...] = tuple(sorted(REGISTRY, key=lambda entry: _PART_ORDER[entry.part]))

__all__ = ["ALL_CHECKS", "Check", "CheckFailed", "Student"]
