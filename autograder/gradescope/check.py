"""``setup.sh --check``: is this environment one the bundle grades in, without installing anything?

Checked, one line each: the Python version, every pin of ``requirements.txt`` installed at its
version, the engine importing, the course notebook, the NLTK corpus Part B trains on and the offline
tokenizer Part C uses.  Whether the kernel has Landlock is printed, not required (a container may lack
it; the worker then says so in its confinement note).
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

MINIMUM_PYTHON = (3, 11)
ENGINE_MODULES = ("autograder.grading.engine", "autograder.checks", "landlockpy", "nltk", "transformers")


def pins(lock: Path) -> dict[str, str]:
    """Distribution name -> pinned version, from a ``name==version`` lock."""
    found = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            found[requirement.name] = next(iter(requirement.specifier)).version
    return found


def _python() -> str:
    if sys.version_info < MINIMUM_PYTHON:
        raise RuntimeError(f"Python {sys.version.split()[0]} is older than {'.'.join(map(str, MINIMUM_PYTHON))}")
    return f"Python {sys.version.split()[0]}"


def _lock(lock: Path) -> Callable[[], str]:
    def check() -> str:
        wrong = []
        for name, pinned in pins(lock).items():
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                wrong.append(f"{name} missing")
                continue
            if Version(installed).public != Version(pinned).public:  # torch's local "+cpu" matches its pin
                wrong.append(f"{name} {installed} (pinned {pinned})")
        if wrong:
            raise RuntimeError("not as requirements.txt pins: " + ", ".join(wrong[:20]))
        return f"{len(pins(lock))} pinned packages installed at their versions"
    return check


def _imports() -> str:
    for module in ENGINE_MODULES:
        importlib.import_module(module)
    return "the engine imports (" + ", ".join(ENGINE_MODULES) + ")"


def _course() -> str:
    from autograder.assignment import course

    course.cells(course.PART_B_CELLS)
    return f"course notebook: {len(course.provided_cells())} provided and test cells"


def _corpus() -> str:
    from nltk.corpus import movie_reviews  # read as the course's partb_data cell reads it

    return f"NLTK corpus movie_reviews: {len(movie_reviews.fileids())} reviews"


def _tokenizer() -> str:
    from autograder.assignment.offline_model import offline_tokenizer

    return f"offline tokenizer {type(offline_tokenizer()).__name__} loads"


def _landlock() -> str:
    import landlockpy

    abi = landlockpy.abi_version()
    return f"Landlock ABI {abi}" if abi > 0 else "Landlock unavailable here: workers run without file confinement"


def run_checks(lock: Path) -> bool:
    """Print one line per check; whether all passed (Landlock's line is information only)."""
    ok = True
    for name, check, required in (("python", _python, True), ("lock", _lock(lock), True), ("imports", _imports, True),
                                  ("course", _course, True), ("corpus", _corpus, True),
                                  ("tokenizer", _tokenizer, True), ("landlock", _landlock, False)):
        try:
            print(f"ok       {name}: {check()}", flush=True)
        except Exception as exc:  # LookupError (nltk), ImportError, OSError, RuntimeError: all one answer
            ok = ok and not required
            message = " ".join(str(exc).split())[:600]
            print(f"{'FAILED' if required else 'note':<8} {name}: {type(exc).__name__}: {message}", flush=True)
    return ok
