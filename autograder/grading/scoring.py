"""The grading rule: how check outcomes become points.  Every front door scores through here.

1. A check scores all of its points or none.  It passes when it returns (a note, or nothing);
   it fails when it raises ``CheckFailed`` (the code is wrong), ``StudentError`` (the code
   raised) or ``WorkerLost`` (the process running the code hung, died or broke the protocol).
2. A check that fails because of the grader itself (any other exception) also scores 0, and
   the submission is flagged so that a person looks at it; the other checks still run.
3. A part whose cells hold no code scores 0 on every check, with the reason as the output.
4. A test cell's score is the sum of its checks' scores, out of the sum of their points; the
   same sum gives a part's score and the submission's.  Sums are rounded to 4 decimals.
5. A check counts as passed when its score reaches its points.
6. In nbgrader, a test cell's recorded score is rule 4's, scaled to the cell's own points if
   the notebook's metadata disagrees with the checks (a test keeps them equal), and clamped
   to [0, the cell's points].

Points are declared once, in each ``@check(...)``; everything else derives from them.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

DECIMALS = 4


class Scored(Protocol):
    score: float
    max_score: float


def check_score(points: float, *, passed: bool) -> float:
    """Rules 1-3: all of a check's points, or none."""
    return float(points) if passed else 0.0


def has_passed(score: float, points: float) -> bool:
    """Rule 5."""
    return score >= points


def total(results: Iterable[Scored]) -> tuple[float, float]:
    """Rule 4: (score, out of) of some checks' results."""
    results = list(results)
    return (round(sum(result.score for result in results), DECIMALS),
            round(sum(result.max_score for result in results), DECIMALS))


def subtotals(results: Iterable[Scored], key: Callable[[Scored], str]) -> dict[str, tuple[float, float]]:
    """Rule 4 per group (a part, a test cell), in the order the groups first appear."""
    groups: dict[str, list[Scored]] = {}
    for result in results:
        groups.setdefault(key(result), []).append(result)
    return {name: total(members) for name, members in groups.items()}


def recorded_cell_score(got: float, out_of: float, cell_points: float) -> float:
    """Rule 6: the score nbgrader records for a test cell worth ``cell_points``."""
    score = got if agree(out_of, cell_points) else (got / out_of * cell_points if out_of else 0.0)
    return min(max(float(score), 0.0), cell_points)


def agree(checks_points: float, cell_points: float) -> bool:
    """Whether a test cell's metadata gives it the points its checks add up to."""
    return abs(checks_points - cell_points) < 1e-9
