"""Part A's checks on every fixture of ``tests/submissions/part_a/``, as its ``expected.json`` says.

Each file is graded once through the engine (a real worker, Part A only).  The expected results
came from the engine before it was restructured: correct code in any style passes every check, a
one-mistake file fails exactly the checks that name its mistake, and a wrong attention function
costs no test_mha points (those checks pass with a note).
"""
from __future__ import annotations

import functools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from verdicts import assert_as_expected

from autograder.grading import engine

FIXTURES = sorted(path.name for path in (Path(__file__).parents[1] / "submissions" / "part_a").glob("*.py"))
TWICE = ("reference.py", "bad_split_no_transpose.py")     # graded twice: the JSON must be identical


@pytest.fixture(scope="module")
def graded(request, submissions):
    """grade(file) -> GradeReport (Part A only), two at a time in child processes, each file graded once.

    The files the selected tests need are all submitted at once (with ``-k``, only those).
    """
    grade_part_a = functools.partial(engine.grade_submission, parts=["part-a"])
    futures = {}
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1),
                             mp_context=multiprocessing.get_context("spawn")) as pool:

        def grade(name: str, *, again: bool = False):
            if (name, again) not in futures:
                futures[(name, again)] = pool.submit(grade_part_a, submissions / "part_a" / name)
            return futures[(name, again)].result()

        selected = [item for item in request.session.items if item.module is request.module]
        for item in selected:
            name = getattr(item, "callspec", None) and item.callspec.params.get("name")
            if name:
                futures[(name, False)] = pool.submit(grade_part_a, submissions / "part_a" / name)
        if any(item.name == "test_grading_is_deterministic" for item in selected):
            for name in TWICE:
                for again in (False, True):
                    if (name, again) not in futures:
                        futures[(name, again)] = pool.submit(grade_part_a, submissions / "part_a" / name)
        yield grade


def test_every_expectation_has_its_fixture(expected_verdicts):
    assert sorted(name for name in expected_verdicts("part_a") if not name.startswith("_")) == FIXTURES


@pytest.mark.parametrize("name", FIXTURES)
def test_a_fixture_gets_its_expected_grade(graded, expected_verdicts, name):
    assert_as_expected(graded(name), expected_verdicts("part_a")[name])


def test_grading_is_deterministic(graded):
    """Derandomized hypothesis, no example database: the same file gets byte-identical JSON."""
    for name in TWICE:
        assert graded(name, again=True).to_json() == graded(name).to_json()
