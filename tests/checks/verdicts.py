"""The one way a test compares a grade with its fixture's entry in ``tests/submissions/<group>/expected.json``.

An entry is ``{"checks": {check: points scored}, "flags": [substrings], "messages": {check: text}}``:
exactly those checks ran and scored those points, each worth what its ``@check`` says
(``ALL_CHECKS``); every substring of ``flags`` is in some flag, and ``[]`` means no flag at all;
each check's output contains its ``messages`` text (one substring, or a list of them).
"""
from __future__ import annotations

from typing import Any

from autograder.checks import ALL_CHECKS
from autograder.grading.report import GradeReport

POINTS = {entry.name: entry.points for entry in ALL_CHECKS}


def assert_as_expected(report: GradeReport, expected: dict[str, Any]) -> None:
    results = {result.name: result for result in report.results}
    assert set(results) == set(expected["checks"]), f"checks run: {sorted(results)}"
    for name, score in expected["checks"].items():
        result = results[name]
        assert result.max_score == POINTS[name], (name, result.max_score)
        assert result.score == score, f"{name} scored {result.score}, expected {score}:\n{result.output}"
    for name, texts in expected.get("messages", {}).items():
        for text in [texts] if isinstance(texts, str) else texts:
            assert text in results[name].output, f"{name}: expected {text!r} in:\n{results[name].output}"
    flags = expected.get("flags", [])
    if not flags:
        assert not report.flags, report.flags
    for text in flags:
        assert any(text in flag for flag in report.flags), f"no flag contains {text!r}: {report.flags}"
