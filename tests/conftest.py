"""Shared by every test: where the project and the fixture submissions are, and their expected verdicts.

A fixture submission is a file under ``tests/submissions/<group>/``; what grading it must give
lives next to it, in ``tests/submissions/<group>/expected.json`` (fixture file name -> expected
results), so that a test states no expectation of its own.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SUBMISSIONS = ROOT / "tests" / "submissions"

# Offline, as on the course machines: the corpus from the shared folder (CI sets the same), no hub.
os.environ.setdefault("NLTK_DATA", str(ROOT.parent / "shared" / "nltk_data"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The venv's programs (alembic, which nbgrader runs to make a gradebook; jupyter; dask), as if it were
# activated: scripts/run_tests.sh runs the venv's python without activating it.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def read_expected(group: str) -> dict[str, Any]:
    """The expected results of every fixture of ``tests/submissions/<group>/``, keyed by file name."""
    return json.loads((SUBMISSIONS / group / "expected.json").read_text())


@pytest.fixture(scope="session")
def expected_verdicts() -> Callable[[str], dict[str, Any]]:
    """``expected_verdicts("part_a")["bad_no_scale.py"]``: what grading that fixture must give."""
    return read_expected


@pytest.fixture(scope="session")
def submissions() -> Path:
    return SUBMISSIONS
