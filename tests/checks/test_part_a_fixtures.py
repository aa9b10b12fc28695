"""Part A's checks on every fixture of ``tests/submissions/part_a/`` and ``real_world_attention/``, as their
``expected.json`` say.

Each file is graded once through the engine (a real worker, Part A only).  The expected results
of part_a came from the engine before it was restructured: correct code in any style passes every
check, a one-mistake file fails exactly the checks that name its mistake, and a wrong attention
function costs no test_mha points (those checks pass with a note).  real_world_attention holds
attention written as public repositories write it (issue 15): the styles the notebook allows pass,
the deviations it rules out fail where they show.
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

GROUPS = ("part_a", "real_world_attention")
FILES = {group: sorted(path.name for path in (Path(__file__).parents[1] / "submissions" / group).glob("*.py"))
         for group in GROUPS}
FIXTURES = [(group, name) for group in GROUPS for name in FILES[group]]
TWICE = (("part_a", "reference.py"), ("part_a", "bad_split_no_transpose.py"))   # graded twice: identical JSON


@pytest.fixture(scope="module")
def graded(request, submissions):
    """grade(group, file) -> GradeReport (Part A only), two at a time in child processes, each file graded once.

    The files the selected tests need are all submitted at once (with ``-k``, only those).
    """
    grade_part_a = functools.partial(engine.grade_submission, parts=["part-a"])
    futures = {}
    with ProcessPoolExecutor(max_workers=min(2, os.cpu_count() or 1),
                             mp_context=multiprocessing.get_context("spawn")) as pool:

        def submit(group: str, name: str, again: bool) -> None:
            if (group, name, again) not in futures:
                futures[(group, name, again)] = pool.submit(grade_part_a, submissions / group / name)

        def grade(group: str, name: str, *, again: bool = False):
            submit(group, name, again)
            return futures[(group, name, again)].result()

        selected = [item for item in request.session.items if item.module is request.module]
        for item in selected:
            params = getattr(item, "callspec", None) and item.callspec.params
            if params and "name" in params:
                submit(params["group"], params["name"], False)
        if any(item.name == "test_grading_is_deterministic" for item in selected):
            for group, name in TWICE:
                for again in (False, True):
                    submit(group, name, again)
        yield grade


@pytest.mark.parametrize("group", GROUPS)
def test_every_expectation_has_its_fixture(expected_verdicts, group):
    assert sorted(name for name in expected_verdicts(group) if not name.startswith("_")) == FILES[group]


@pytest.mark.parametrize(("group", "name"), FIXTURES)
def test_a_fixture_gets_its_expected_grade(graded, expected_verdicts, group, name):
    assert_as_expected(graded(group, name), expected_verdicts(group)[name])


def test_grading_is_deterministic(graded):
    """Derandomized hypothesis, no example database: the same file gets byte-identical JSON."""
    for group, name in TWICE:
        assert graded(group, name, again=True).to_json() == graded(group, name).to_json()
