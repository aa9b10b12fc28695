"""Answers out of reach: modules holding model answers are cut down to what the trusted code took."""
from __future__ import annotations

import sys
import types
from typing import Any

SEALED_MODULES = ("autograder.assignment.reference",)


def seal_modules(namespace: dict[str, Any], names: tuple[str, ...] = SEALED_MODULES) -> None:
    """Cut modules holding model answers down to what the trusted code took from them.

    Part B's trusted code imports our attention from ``autograder.assignment.reference``, which also
    holds the answers to Part B.  Dropping the module from ``sys.modules`` is not enough
    (``MultiHeadAttention.forward.__globals__`` is its namespace), so every global that the
    objects the namespace took from it do not use is deleted from the module itself.
    """
    for name in names:
        module = sys.modules.pop(name, None)
        if module is None:
            continue
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and getattr(sys.modules[parent], child, None) is module:
            delattr(sys.modules[parent], child)
        globals_ = module.__dict__
        roots = [value for value in namespace.values() if getattr(value, "__module__", None) == name]
        keep = {key for key in globals_ if key.startswith("__")} | _names_used(roots, globals_)
        keep |= {key for key, value in globals_.items() if any(value is root for root in roots)}
        for key in list(globals_):
            if key not in keep:
                del globals_[key]


def _names_used(roots: list[Any], globals_: dict[str, Any]) -> set[str]:
    """Globals of a module reachable from the code of ``roots`` (functions, classes, methods)."""
    used: set[str] = set()
    pending, seen = list(roots), set()
    while pending:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        for code in _code_objects(item):
            for name in code.co_names:
                if name in globals_ and name not in used:
                    used.add(name)
                    pending.append(globals_[name])
        if isinstance(item, type):
            pending += [base for base in item.__mro__[1:] if base.__module__ == item.__module__]
    return used


def _code_objects(item: Any) -> list[types.CodeType]:
    functions: list[Any] = []
    if isinstance(item, type):
        for value in vars(item).values():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                functions += [f for f in (value.fget, value.fset, value.fdel) if f is not None]
            elif isinstance(value, types.FunctionType):
                functions.append(value)
    elif isinstance(item, types.FunctionType):
        functions.append(item)
    codes: list[types.CodeType] = []
    pending = [function.__code__ for function in functions]
    while pending:
        code = pending.pop()
        codes.append(code)
        pending += [const for const in code.co_consts if isinstance(const, types.CodeType)]
    return codes
