"""Put the engine's verdicts into nbgrader: after the kernel ran, before ``SaveAutoGrades``.

nbgrader scores an autograded test cell from its outputs (``nbgrader.utils.determine_grade``):
an error or any stderr output is 0, an ``execute_result`` that reads as a number is partial
credit, anything else is full marks.  All of that is what the student's kernel printed, so a
submission that patches ``torch.allclose`` or returns objects equal to everything passes.

This step grades the submitted code with :func:`autograder.grading.engine.grade_submission` (each part
in a confined worker, every verdict in a grading process of its own with memory and time limits,
see :mod:`.enginechild`) and replaces the outputs of every test
cell the engine has checks for with exactly two: the per-check feedback (stdout) and the
engine's score as the cell's value, so that ``determine_grade`` returns that score and nothing
the kernel printed survives.  Test cells the engine does not know keep nbgrader's scoring.

The engine grades only the code (:func:`graded_notebook`), which is known before the kernel
runs: :class:`~.starttrustedgrading.StartTrustedGrading`, first in the pass, starts the grading
then, so that the engine and the student's kernel run at the same time.  This step takes that
grading only if the code it graded is exactly the code in front of it, and grades again otherwise.
"""
from __future__ import annotations

import copy
import hashlib
import json
import threading
from concurrent.futures import Future

import nbformat
from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Float, Integer, List, Unicode

from autograder import ENGINE_VERSION
from autograder.assignment.parts import PARTS
from autograder.batch.isolate import Outcome, Task, run_isolated
from autograder.grading import scoring
from autograder.grading.report import CheckResult, GradeReport
from autograder.nbgrader_steps import enginechild
from autograder.nbgrader_steps.flags import SALVAGE_METADATA_KEY, add_flag, carried_flags, flags

METADATA_KEY = "autograder"
PENDING_KEY = "autograder_pending_grading"  # in resources: the grading StartTrustedGrading started
LOAD_SECONDS = 120.0  # how long the kernel waits for that grading to import the engine (0.5 s on a quiet machine)


class TrustedVerdicts(NbGraderPreprocessor):
    """Replace each autograded test cell's outputs with the engine's verdict on the submitted code."""

    parts = List(
        Unicode(),
        default_value=[],
        help="Grade only these parts (tags of autograder.assignment.parts.PARTS, e.g. 'part-a'); empty means every "
             "part.  Test cells of the parts left out keep nbgrader's own scoring: for test courses only.",
    ).tag(config=True)

    memory_limit = Integer(
        4 * 2**30,
        min=2**30,
        help="Address space (bytes, RLIMIT_AS) of the process that grades one notebook with the engine (an honest "
             "grading of the whole course peaks at 1.4 GiB); past it that notebook's checks score 0 and it is flagged.",
    ).tag(config=True)

    time_limit = Float(
        900.0,
        min=1.0,
        help="Seconds the engine may take on one notebook, in all; past them the grading process and everything it "
             "started are killed, the notebook's checks score 0 and it is flagged.",
    ).tag(config=True)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._started: PendingGrading | None = None
        enginechild.start(self.memory_limit)  # before any student kernel runs: see enginechild

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        salvaged = nb.metadata.get(SALVAGE_METADATA_KEY)
        if salvaged:
            add_flag(resources, str(salvaged))
        for reason in carried_flags(nb):
            add_flag(resources, reason)
        self.report = self._grade(nb, resources)
        for reason in self.report.flags:
            add_flag(resources, reason)
        self.scores = self.report.cell_scores()
        self.graded_cells: list[str] = []
        nb, resources = super().preprocess(nb, resources)
        for grade_id in sorted(set(self.scores) - set(self.graded_cells)):
            got, out_of = self.scores[grade_id]
            add_flag(resources, f"test cell {grade_id} is not in the notebook, so its trusted score "
                                f"({got:g}/{out_of:g}) could not be recorded")
        nb.metadata[METADATA_KEY] = {"engine_version": self.report.engine_version, "digest": self.report.digest,
                                     "score": self.report.score, "max_score": self.report.max_score,
                                     "flags": list(flags(resources))}
        return nb, resources

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict,
                        index: int) -> tuple[NotebookNode, ResourcesDict]:
        if not (cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)):
            return cell, resources
        grade_id = cell.metadata.nbgrader["grade_id"]
        if grade_id not in self.scores:
            self.log.warning("no trusted checks for test cell %s: nbgrader scores it from the kernel's output", grade_id)
            return cell, resources
        points = float(cell.metadata.nbgrader["points"])
        score, text = self._verdict(grade_id, points, resources)
        cell.outputs = [new_output("stream", name="stdout", text=text + "\n"),
                        new_output("execute_result", data={"text/plain": repr(score)},
                                   execution_count=cell.get("execution_count"))]
        self.graded_cells.append(grade_id)
        return cell, resources

    def start_grading(self, nb: NotebookNode, resources: ResourcesDict) -> None:
        """Start grading the notebook's code in the background; :meth:`_grade` collects it."""
        if self._started is not None:  # the last notebook's, if its pass failed before TrustedVerdicts took it
            self._started.cancel()
        self._started = resources[PENDING_KEY] = PendingGrading(self._task(nb, resources), self.time_limit)
        if not self._started.wait_loaded(LOAD_SECONDS):
            self.log.warning("the grading of this notebook has not loaded the engine after %g s: its kernel starts anyway",
                             LOAD_SECONDS)

    def _task(self, nb: NotebookNode, resources: ResourcesDict) -> Task:
        info = resources.get("nbgrader", {})
        name = f"{info.get('student', 'student')}-{info.get('notebook', 'notebook')}.ipynb"
        return Task(student=str(info.get("student", "student")), filename=name, content=graded_notebook(nb),
                    parts=tuple(self.parts) or None, grader=enginechild.GRADER)

    def _grade(self, nb: NotebookNode, resources: ResourcesDict) -> GradeReport:
        """Grade the notebook's code as nbgrader read it (:func:`graded_notebook`), or take the grading started on it.

        Not the file on disk: the student's kernel could have rewritten that while it ran.  The
        engine runs in a child process (:mod:`.enginechild`); if that fails, every check scores 0
        and the notebook is flagged, and the class run goes on.
        """
        task = self._task(nb, resources)
        pending = resources.pop(PENDING_KEY, None)
        if pending is not None and pending.content == task.content:
            self.log.info("taking the trusted engine's grading of %s, started before the kernel ran", task.filename)
            outcome = pending.outcome()
        else:
            if pending is not None:
                self.log.warning("the code of %s changed after its grading started: grading it again", task.filename)
                pending.cancel()
            self.log.info("grading %s with the trusted engine, in a child process", task.filename)
            outcome = run_isolated(task, timeout=self.time_limit)
        if outcome.report_json is not None:
            return GradeReport.from_gradescope(json.loads(outcome.report_json))
        reason = (f"the trusted grading engine failed on this notebook ({outcome.failure}; its memory limit is "
                  f"{self.memory_limit / 2**30:g} GiB): every check scored 0")
        self.log.error("%s: %s", task.filename, reason)
        return _nothing_graded(task.filename, hashlib.sha256(task.content).hexdigest(), reason, self.parts)

    def _verdict(self, grade_id: str, points: float, resources: ResourcesDict) -> tuple[float, str]:
        """The cell's score in its own points, and the text the student sees under it."""
        got, out_of = self.scores[grade_id]
        score = scoring.recorded_cell_score(got, out_of, points)
        lines = [f"Graded by the autograder outside your notebook's kernel: {score:g}/{points:g}"]
        if not scoring.agree(out_of, points):
            self.log.warning("test cell %s is worth %g points but its checks add up to %g: scaling", grade_id, points, out_of)
            lines.append(f"(its checks are worth {out_of:g} in all: {got:g}/{out_of:g} scaled to {points:g} points)")
        lines.append(self.report.cell_feedback(grade_id))
        lines += [f"Flag: {reason}" for reason in self._cell_flags(grade_id, resources)]
        return score, "\n".join(line for line in lines if line)

    def _cell_flags(self, grade_id: str, resources: ResourcesDict) -> list[str]:
        """Flags about this cell's parts; flags about the whole notebook go under the first test cell."""
        parts = {result.part for result in self.report.results if result.test_cell == grade_id}
        owners = {part.tag: part.tag for part in PARTS} | {result.name: result.part for result in self.report.results}
        shown = []
        for reason in flags(resources):
            owner, _, rest = reason.partition(": ")
            part = owners.get(owner)
            if part is None and not self.graded_cells:
                shown.append(reason)
            elif part in parts and rest not in self.report.notes.get(part, []):  # notes are in the feedback already
                shown.append(reason)
        return shown


def graded_notebook(nb: NotebookNode) -> bytes:
    """What the engine grades: every cell's type, source and nbgrader metadata, nothing the kernel wrote."""
    kept = nbformat.v4.new_notebook()
    for cell in nb.cells:
        bare = copy.deepcopy({key: value for key, value in cell.items()
                              if key not in ("outputs", "execution_count", "attachments", "metadata")})
        metadata = cell.get("metadata", {})
        bare["metadata"] = {"nbgrader": copy.deepcopy(metadata["nbgrader"])} if "nbgrader" in metadata else {}
        if bare.get("cell_type") == "code":
            bare.update(outputs=[], execution_count=None)
        kept.cells.append(nbformat.from_dict(bare))
    return nbformat.writes(kept).encode("utf-8")


class PendingGrading:
    """One notebook's isolated grading, running in a thread of nbgrader's process until it is collected."""

    def __init__(self, task: Task, timeout: float) -> None:
        self.content = task.content
        self._cancelled = threading.Event()
        self._loaded = threading.Event()
        self._future: Future[Outcome] = Future()
        self._thread = threading.Thread(target=self._run, args=(task, timeout), name=f"grading {task.filename}",
                                        daemon=True)
        self._thread.start()

    def _run(self, task: Task, timeout: float) -> None:
        try:
            self._future.set_result(run_isolated(task, timeout, cancel=self._cancelled, loaded=self._loaded))
        except BaseException as error:  # handed to the thread that collects the grading, as if it had run there
            self._future.set_exception(error)
        finally:
            self._loaded.set()

    def wait_loaded(self, timeout: float) -> bool:
        """Wait until the grading process has imported the engine (or ended); False if ``timeout`` passed first."""
        return self._loaded.wait(timeout)

    def outcome(self) -> Outcome:
        """Wait for the grading (run_isolated kills it at its time limit)."""
        return self._future.result()

    def cancel(self) -> None:
        """Kill the grading (nobody will read it) and wait until it is gone."""
        self._cancelled.set()
        self._thread.join()


def _nothing_graded(name: str, digest: str, reason: str, parts: list[str]) -> GradeReport:
    """A report in which every check of the graded parts scored 0 for ``reason`` (scoring rule 3)."""
    from autograder.checks import ALL_CHECKS  # imports torch: not in nbgrader's own process unless needed

    wanted = set(parts) or {part.tag for part in PARTS}
    report = GradeReport(submission=name, digest=digest, engine_version=ENGINE_VERSION, flags=[reason])
    report.results = [CheckResult(entry.name, entry.part, entry.test_cell, scoring.check_score(entry.points, passed=False),
                                  float(entry.points), reason) for entry in ALL_CHECKS if entry.part in wanted]
    return report
