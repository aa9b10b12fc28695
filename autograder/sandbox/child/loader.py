"""Loading the student's code: each top-level definition, one statement at a time."""
from __future__ import annotations

import ast
import traceback
from typing import Any

from autograder.sandbox.child.monitor import MONITOR
from autograder.sandbox.shared import PACKAGE_DIR

_KEPT_STATEMENTS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_definition(node: ast.stmt) -> bool:
    """Whether a top-level statement defines something rather than doing work.

    Calls at the top level (training runs, downloads, prints, shell magics) are what make
    an exported notebook slow or unsafe to import, so assignments are kept only when their
    value calls nothing.
    """
    if isinstance(node, _KEPT_STATEMENTS):
        return True
    if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
        return not any(isinstance(sub, ast.Call) for sub in ast.walk(node.value))
    return False


def student_traceback(exc: BaseException) -> str:
    traceback.clear_frames(exc.__traceback__)  # let go of what the code held (a memory bomb's hoard)
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__)
              if not frame.filename.startswith(PACKAGE_DIR)]
    lines = traceback.format_list(frames[-6:])
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines)[-4000:]


def exec_definitions(source: str, label: str, namespace: dict[str, Any]) -> list[str]:
    """Run the definitions in ``source`` one statement at a time; return the errors met."""
    try:
        tree = ast.parse(source, filename=f"<{label}>")
    except SyntaxError as exc:
        return [f"{label}: syntax error on line {exc.lineno}: {exc.msg}"]
    except (ValueError, RecursionError, MemoryError) as exc:
        return [f"{label}: cannot be parsed ({type(exc).__name__})"]
    errors = []
    for node in tree.body:
        if not _is_definition(node):
            continue
        module = ast.Module(body=[node], type_ignores=[])
        try:
            exec(compile(module, f"<{label}>", "exec"), namespace)
        except BaseException as exc:  # student code may raise SystemExit or KeyboardInterrupt
            if not isinstance(exc, Exception):
                MONITOR.note(f"your code raised {type(exc).__name__} while loading (it does not stop the grading)")
            errors.append(f"{label}, line {node.lineno}:\n{student_traceback(exc)}")
    return errors
