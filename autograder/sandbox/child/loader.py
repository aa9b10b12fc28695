"""Loading the student's code the way a kernel runs a notebook: every statement, in order, each on a budget.

Grading runs what the notebook runs (helpers in added cells, constants made by calls,
dataclasses, prints, plots), so every top-level statement runs, not only definitions.  What a
kernel would survive, the worker survives too: a statement that raises, or runs past its time
budget, is skipped with a note naming its cell and line, and loading goes on; once the load's
own budget is nearly spent only definitions still run.  The code runs as the kernel's
``__main__`` module (registered in ``sys.modules``, compiled with its own ``__future__``
imports only), so ``dataclasses``, ``pickle``, ``typing.get_type_hints`` and globals read at
call time behave as in Jupyter.  Before each statement the worker writes which one it is to a
file in its scratch folder: if the statement kills the worker, the grader starts a new one
that skips it (see :mod:`autograder.sandbox.student`).
"""
from __future__ import annotations
import __future__

import ast
import os
import signal
import sys
import time
import traceback
import types
from typing import Any

from autograder.sandbox.child.monitor import MONITOR
from autograder.sandbox.shared import PROGRESS_FILE, PROJECT_ROOT

_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
LOAD_RESERVE = 0.25  # the share of the load budget kept for definitions once statements have used the rest


class StatementOverran(BaseException):
    """Raised in a student's statement whose time budget is spent (a BaseException, so that an
    ``except Exception`` in the student's code does not swallow it)."""


def notebook_namespace() -> dict[str, Any]:
    """The globals of a fresh ``__main__`` module, registered in ``sys.modules`` as a kernel's is."""
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    sys.modules["__main__"] = module
    return module.__dict__


def student_traceback(exc: BaseException) -> str:
    """What the student sees of an exception: the frames of notebook code only (their cells, the course's),
    and no path of the grading machine (its Python, the grader, the scratch directory)."""
    traceback.clear_frames(exc.__traceback__)  # let go of what the code held (a memory bomb's hoard)
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename.startswith("<")]
    lines = traceback.format_list(frames[-6:])
    lines.append(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    return without_machine_paths("".join(lines))[-4000:]


def without_machine_paths(text: str) -> str:
    """``text`` with the grading machine's directories replaced by what they are."""
    places = {os.getcwd(): "<scratch>", PROJECT_ROOT: "<grader>", sys.prefix: "<python>", sys.base_prefix: "<python>"}
    for path, name in sorted(places.items(), key=lambda item: -len(item[0])):
        if len(path) > 1:
            text = text.replace(path, name)
    return text


def _future_flags(tree: ast.Module) -> int:
    """The compiler flags of the ``from __future__`` imports at the top of a cell."""
    flags = 0
    for node in tree.body:
        if not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            break
        for alias in node.names:
            flags |= getattr(getattr(__future__, alias.name, None), "compiler_flag", 0)
    return flags


def _overran(signum: int, frame: Any) -> None:
    raise StatementOverran()


class Loader:
    """Runs the student's cells into the notebook namespace, one top-level statement at a time."""

    def __init__(self, namespace: dict[str, Any], *, statement_seconds: float, load_seconds: float,
                 skip: set[str], scratch: str) -> None:
        self.namespace, self.skip, self.scratch = namespace, skip, scratch
        self.statement_seconds = statement_seconds
        self.statements_until = time.monotonic() + load_seconds * (1 - LOAD_RESERVE)
        self.errors: list[str] = []

    def run(self, cells: list[tuple[str, str]]) -> list[str]:
        """Run every cell; return what went wrong, per cell and line."""
        previous = signal.signal(signal.SIGALRM, _overran)
        try:
            for number, (label, source) in enumerate(cells):
                self._run_cell(number, label, source)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            self._mark("")
        return self.errors

    def _run_cell(self, number: int, label: str, source: str) -> None:
        try:
            tree = ast.parse(source, filename=f"<{label}>")
        except SyntaxError as exc:
            self.errors.append(f"{label}: syntax error on line {exc.lineno}: {exc.msg}")
            return
        except (ValueError, RecursionError, MemoryError) as exc:
            self.errors.append(f"{label}: cannot be parsed ({type(exc).__name__})")
            return
        flags = _future_flags(tree)
        for position, node in enumerate(tree.body):
            key, where = f"{number}:{position}", f"{label}, line {node.lineno}"
            if key in self.skip:
                self.errors.append(f"{where}: not run (it ended the process running your code)")
                continue
            if time.monotonic() > self.statements_until and not isinstance(node, _DEFINITIONS):
                self.errors.append(f"{where}: not run (loading your code took too long)")
                continue
            self._mark(f"{key}\t{where}")
            self._run_statement(node, label, flags, where)

    def _run_statement(self, node: ast.stmt, label: str, flags: int, where: str) -> None:
        try:
            code = compile(ast.Module(body=[node], type_ignores=[]), f"<{label}>", "exec", flags=flags,
                           dont_inherit=True)
            signal.setitimer(signal.ITIMER_REAL, self.statement_seconds)
            try:
                exec(code, self.namespace)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except StatementOverran:
            MONITOR.note(f"{where} ran longer than {self.statement_seconds:g} s while loading and was stopped "
                         "(the rest of your code was loaded)")
            self.errors.append(f"{where}: stopped after {self.statement_seconds:g} s")
        except BaseException as exc:  # student code may raise SystemExit or KeyboardInterrupt
            if not isinstance(exc, Exception):
                MONITOR.note(f"your code raised {type(exc).__name__} while loading (it does not stop the grading)")
            self.errors.append(f"{where}:\n{student_traceback(exc)}")

    def _mark(self, text: str) -> None:
        with open(os.path.join(self.scratch, PROGRESS_FILE), "w") as handle:
            handle.write(text)
