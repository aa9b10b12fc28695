"""Many isolated gradings at once: a pool of supervising threads here, or tasks on a Dask cluster."""
from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from autograder.batch.isolate import Outcome, Task, run_isolated


def run_locally(tasks: list[Task], jobs: int, timeout: float, how: str) -> Iterator[tuple[Task, Outcome]]:
    """Up to ``jobs`` grading processes at once; yields each (task, outcome) as it finishes."""
    cancel = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="autograder-supervisor")
    futures: dict[Future, Task] = {}
    try:
        futures = {pool.submit(run_isolated, task, timeout, how, cancel): task for task in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: futures[f].student):
                yield futures[future], outcome_of(future, futures[future])
    finally:
        cancel.set()  # on Ctrl-C (or an error here) stop every grading process still running
        pool.shutdown(wait=True, cancel_futures=True)


def run_on_dask(tasks: list[Task], address: str, timeout: float) -> Iterator[tuple[Task, Outcome]]:
    """The same tasks on a Dask cluster: each Dask task runs one isolated grading process."""
    from dask.distributed import Client, as_completed

    token = uuid.uuid4().hex[:8]
    with Client(address) as client:
        futures = {client.submit(run_isolated, task, timeout, "auto", key=f"autograder-grade-{task.student}-{token}",
                                 pure=False, retries=0): task for task in tasks}
        try:
            for future in as_completed(list(futures)):
                yield futures[future], outcome_of(future, futures[future])
        finally:
            client.cancel(list(futures))


def outcome_of(future: Any, task: Task) -> Outcome:
    """A future's Outcome; an exception in the supervision itself becomes that submission's failure."""
    try:
        return future.result()
    except BaseException as exc:  # KilledWorker, CancelledError, an OSError starting the process...
        return Outcome(task.student, failure=f"the grading task failed ({type(exc).__name__}: {exc})"[:1000])
