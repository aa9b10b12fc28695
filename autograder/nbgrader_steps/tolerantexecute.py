"""Run the submitted notebook like nbgrader's ``Execute``, but survive a kernel that dies or hangs.

Stock nbgrader aborts a student's whole autograde when the kernel dies (``os._exit``, a
segfault, running out of memory) or cannot be interrupted after a cell timeout, so the
gradebook gets no grade at all.  Here the run stops at that cell instead: the reason goes into
the cell's output and the notebook's flags, the cells after it are marked as not run (so
nbgrader cannot mistake an empty output for a pass), and the trusted grader still grades the
code, which never depended on this kernel.  A kernel that dies before its first cell is started
again (a few times) before that counts as a failure.  The kernel itself runs confined, with the
worker's resource limits (see :mod:`autograder.nbgrader_steps.confinedkernel`), and whatever it
left running or in /dev/shm is removed (:mod:`autograder.nbgrader_steps.kernelleftovers`).
"""
from __future__ import annotations

import uuid

from jupyter_client.manager import AsyncKernelManager
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

from autograder.nbgrader_steps.confinedkernel import ConfinedKernelManager
from autograder.nbgrader_steps.flags import add_flag
from autograder.nbgrader_steps.kernelleftovers import kill_marked_processes


class TolerantExecute(Execute):
    """nbgrader's Execute, except that a dead or unresponsive kernel ends the run, not the autograde."""

    stop_after_timeout = Bool(
        True,
        help="After a cell times out (and is interrupted), do not run the rest of the notebook: its "
             "state is incomplete, the grade does not depend on it, and every further cell could "
             "time out too.",
    ).tag(config=True)

    confine_kernel = Bool(
        True,
        help="Start the kernel confined (autograder.nbgrader_steps.confinedkernel): it may not change the "
             "grader's files or the gradebook, read the course, connect anywhere or signal other processes.",
    ).tag(config=True)

    kill_leftovers = Bool(
        True,
        help="After the run, kill the kernel with every process it started (whatever their session or "
             "environment) and remove the files it left in /dev/shm, so that nothing it started outlives "
             "its notebook (autograder.nbgrader_steps.kernelleftovers).",
    ).tag(config=True)

    kernel_start_attempts = Integer(
        3,
        min=1,
        help="How many times to start the kernel when it dies before running any cell (on a loaded "
             "machine a kernel can lose a race for its ports); only the last failure is flagged.",
    ).tag(config=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.kernel_manager_class is AsyncKernelManager:
            self.kernel_manager_class = ConfinedKernelManager

    def create_kernel_manager(self) -> AsyncKernelManager:
        manager = super().create_kernel_manager()
        if isinstance(manager, ConfinedKernelManager):
            manager.confine, manager.run_marker = self.confine_kernel, self._marker
            manager.end_leftovers = self.kill_leftovers
        return manager

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        self._resources = resources
        for attempt in range(1, self.kernel_start_attempts + 1):
            self._stopped: str | None = None
            self._cell_started = False
            self._marker = uuid.uuid4().hex
            try:
                return super().preprocess(nb, resources)
            except (DeadKernelError, CellTimeoutError, RuntimeError, OSError) as exc:
                # outside any cell: the kernel did not start, or died while starting or shutting down
                if not self._cell_started and attempt < self.kernel_start_attempts:
                    self.log.warning("the kernel failed before running a cell (%s: %s); starting it again",
                                     type(exc).__name__, _short(exc))
                    continue
                self._record(f"the notebook's kernel failed outside a cell ({type(exc).__name__}: {_short(exc)})")
                return nb, resources
            finally:
                if self.kill_leftovers:  # the kernel manager ended its tree; a kernel that never started has none
                    kill_marked_processes(self._marker, self.log)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        if self._stopped is not None:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [_error_output("NotRun", f"not run: {self._stopped}")]
            return cell, resources
        self._cell_started = True
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            reason = f"the kernel died while running {self._where(cell, index)} (os._exit, a crash, or out of memory)"
        except CellTimeoutError:
            reason = (f"{self._where(cell, index)} did not finish within {self._limit(cell)} s and the kernel could "
                      "not be interrupted")
        cell.outputs.append(_error_output("KernelStopped", reason))
        self._stop(reason)
        return cell, resources

    def _where(self, cell: NotebookNode, index: int) -> str:
        """The cell as an instructor finds it: its grade_id, or the graded cell it was added after."""
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            return f"cell {index + 1} ({grade_id})"
        cells = getattr(getattr(self, "nb", None), "cells", [])[:index]
        before = [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells]
        before = [gid for gid in before if gid]
        return (f"cell {index + 1} (a cell the student added after {before[-1]})" if before
                else f"cell {index + 1} (a cell the student added before the first graded cell)")

    def on_cell_executed(self, **kwargs) -> None:
        super().on_cell_executed(**kwargs)
        reply = kwargs["execute_reply"]["content"]
        if reply.get("status") == "error" and reply.get("ename") == self.error_on_timeout.get("ename"):
            cell = kwargs["cell"]
            reason = f"{self._where(cell, kwargs['cell_index'])} did not finish within {self._limit(cell)} s (interrupted)"
            if self.stop_after_timeout:
                self._stop(reason)
            else:
                self._record(reason)

    def _limit(self, cell: NotebookNode) -> int | None:
        return self.timeout_func(cell) if self.timeout_func is not None else self.timeout

    def _stop(self, reason: str) -> None:
        self._stopped = reason
        self._record(reason + "; the cells after it were not run, and the grade comes from the code alone")

    def _record(self, reason: str) -> None:
        self.log.warning("%s", reason)
        add_flag(self._resources, reason)


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _error_output(name: str, message: str) -> NotebookNode:
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])
