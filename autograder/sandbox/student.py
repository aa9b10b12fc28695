"""One part's code behind worker processes: a worker lost to the student's code is replaced, a few times.

This is the :class:`autograder.checks.registry.Student` the engine hands to the checks.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

from autograder.errors import BudgetSpent, WorkerLost
from autograder.sandbox.handle import WorkerHandle
from autograder.sandbox.limits import Limits
from autograder.sandbox.program import LoadReport, Program

MAX_LOST_WORKERS = 2
MAX_SKIPPED_STATEMENTS = 3  # statements that killed the worker while loading, skipped on the next start


class SandboxedStudent:
    """A part's code behind a worker process, restarted after it is lost (a few times at most)."""

    def __init__(self, program: Program, limits: Limits, deadline: float | None = None) -> None:
        """``deadline`` (time.monotonic()) ends the submission's budget: no wait goes past it."""
        self.program, self.limits = program, limits
        self.deadline = deadline
        self.budget_spent = False
        self.worker: WorkerHandle | None = None
        self.workers: list[WorkerHandle] = []
        self.load: LoadReport | None = None
        self.lost: list[str] = []
        self.given_up: str | None = None
        self.skip: set[str] = set()

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        if self.given_up:
            raise WorkerLost(self.given_up)
        timeout = self._within_budget(timeout or self.limits.call_seconds)
        if self.worker is None:
            self.worker = self._start()
        try:
            return self.worker.call(probe, timeout, **kwargs)
        except BudgetSpent:
            raise
        except WorkerLost as exc:
            self.worker = None
            if self._remaining() <= 0:
                raise self._spend_budget() from None
            self.lost.append(str(exc))
            if len(self.lost) >= MAX_LOST_WORKERS:
                self.given_up = (f"{exc} (the process running your code was lost {len(self.lost)} times; "
                                 "the remaining checks of this part were not run)")
            raise

    def _remaining(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def _within_budget(self, seconds: float) -> float:
        """``seconds``, cut to what is left of the submission's budget (BudgetSpent if nothing is)."""
        remaining = self._remaining()
        if remaining <= 0:
            raise self._spend_budget()
        return min(seconds, remaining)

    def _spend_budget(self) -> BudgetSpent:
        self.budget_spent = True
        self.close()
        return BudgetSpent(f"not run: the grading time budget of this submission "
                           f"({self.limits.submission_seconds:g} s) ran out. An honest grading takes well under a "
                           "minute; look for code that is very slow or waits (sleep, input, endless loops)")

    def _start(self) -> WorkerHandle:
        """A worker with the program loaded; a statement that kills it while loading is skipped next time."""
        while True:
            limits = dataclasses.replace(self.limits, load_seconds=self._within_budget(self.limits.load_seconds))
            worker = WorkerHandle(self.program, limits, frozenset(self.skip))
            self.workers.append(worker)
            try:
                self.load = worker.start()
                return worker
            except WorkerLost as exc:
                if self._remaining() <= 0:
                    raise self._spend_budget() from None
                if worker.loading is None or len(self.skip) >= MAX_SKIPPED_STATEMENTS:
                    self._give_up(f"your code could not be loaded: {exc}")
                key, where = worker.loading.split("\t", 1)
                self.skip.add(key)
                self.lost.append(f"{where} ended the process running your code while loading ({exc}); "
                                 "it was skipped and the rest loaded again")

    def _give_up(self, reason: str) -> None:
        self.given_up = reason
        self.lost.append(reason)
        raise WorkerLost(reason)

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    @property
    def incidents(self) -> list[str]:
        """What the monitors of all this part's workers saw the student's code try (complete once closed)."""
        return list(dict.fromkeys(incident for worker in self.workers for incident in worker.incidents))
