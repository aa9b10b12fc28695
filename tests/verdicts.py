"""The one way the check tests read a report: which checks ran, and which passed or failed and why."""
from __future__ import annotations

from autograder.grading.report import GradeReport


def assert_verdicts(report: GradeReport, checks: dict[str, float], failing: dict[str, str],
                    test_cell: str | None = None) -> None:
    """Exactly ``checks`` ran, no flags; those in ``failing`` scored 0 with that text in their
    message, every other one scored full points."""
    results = {result.name: result for result in report.results}
    assert set(results) == set(checks), f"checks run: {sorted(results)}"
    assert not report.flags, report.flags
    for name, points in checks.items():
        result = results[name]
        assert result.max_score == points
        assert test_cell is None or result.test_cell == test_cell, (name, result.test_cell)
        if name in failing:
            assert result.score == 0, f"{name} passed:\n{report.text()}"
            assert failing[name] in result.output, f"{name}: expected {failing[name]!r} in:\n{result.output}"
        else:
            assert result.score == points, f"{name} failed:\n{result.output}"
