"""The exceptions every layer shares: who is at fault decides how a grade treats them.

- :class:`CheckFailed` and :class:`StudentError` cost the check its points (the student's code is wrong).
- :class:`WorkerLost` costs the check its points and flags the submission (the process running it was lost);
  :class:`BudgetSpent`, a kind of it, says the submission's whole grading time ran out.
- :class:`SandboxError` is ours or the machine's, never the student's.

The worker's own exception for code of the wrong shape, ``StudentAPIError``, lives with the probes
(:mod:`autograder.probes`): it reaches the grader as a :class:`StudentError`.
"""
from __future__ import annotations


class CheckFailed(Exception):
    """The student's code does not do what the check asks; the message says what and where.

    ``brief`` is the same verdict without the diagnosis (what failed and where to look), for a
    course that sets brief feedback (:mod:`autograder.grading.feedback`): a full diagnosis of the
    fixed layer spells out the fix, which is also a hand-graded answer.
    """

    def __init__(self, message: str = "", brief: str | None = None) -> None:
        super().__init__(message)
        self.brief = brief


class StudentError(Exception):
    """The student's code raised an exception while a probe ran it."""


class WorkerLost(BaseException):
    """The worker hung, died or broke the protocol; the check in progress cannot go on.

    A BaseException so that hypothesis does not treat it as a falsifying example and
    try to shrink it with a dead worker.
    """


class MalformedReply(WorkerLost):
    """The worker answered with data that no run of the probe produces (forged or broken): flagged."""


class BudgetSpent(WorkerLost):
    """The submission's overall grading time ran out: the check in progress and every later one score 0."""


class SandboxError(RuntimeError):
    """The sandbox could not be set up as it must be (the grader's or the machine's fault, not the student's)."""

