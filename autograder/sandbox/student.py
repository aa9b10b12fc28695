"""One part's code behind worker processes: a worker lost to the student's code is replaced, a few times.

This is the :class:`autograder.checks.registry.Student` the engine hands to the checks.
"""
from __future__ import annotations

from typing import Any

from autograder.errors import WorkerLost
from autograder.sandbox.handle import WorkerHandle
from autograder.sandbox.limits import Limits
from autograder.sandbox.program import LoadReport, Program

MAX_LOST_WORKERS = 2


class SandboxedStudent:
    """A part's code behind a worker process, restarted after it is lost (a few times at most)."""

    def __init__(self, program: Program, limits: Limits) -> None:
        self.program, self.limits = program, limits
        self.worker: WorkerHandle | None = None
        self.workers: list[WorkerHandle] = []
        self.load: LoadReport | None = None
        self.lost: list[str] = []
        self.given_up: str | None = None

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        if self.given_up:
            raise WorkerLost(self.given_up)
        if self.worker is None:
            worker = WorkerHandle(self.program, self.limits)
            self.workers.append(worker)
            try:
                self.load = worker.start()
            except WorkerLost as exc:
                self._give_up(f"your code could not be loaded: {exc}")
            self.worker = worker
        try:
            return self.worker.call(probe, timeout, **kwargs)
        except WorkerLost as exc:
            self.worker = None
            self.lost.append(str(exc))
            if len(self.lost) >= MAX_LOST_WORKERS:
                self.given_up = (f"{exc} (the process running your code was lost {len(self.lost)} times; "
                                 "the remaining checks of this part were not run)")
            raise

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
