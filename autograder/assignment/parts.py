"""The assignment's gradable parts: which cells hold the student's code, and what runs around it.

Parts are graded independently: each runs in its own worker, so code that breaks one part
(an endless loop at import, a crash) costs only that part.  Part B runs the student's hook
and layer with *our* attention injected, so a Part A mistake does not cost Part B points.
"""
from __future__ import annotations

from dataclasses import dataclass

from autograder.assignment import course
from autograder.assignment.submission import Submission
from autograder.sandbox.program import Program


@dataclass(frozen=True)
class Part:
    tag: str
    title: str
    student_cells: tuple[str, ...]
    student_names: tuple[str, ...]
    course_cells: tuple[str, ...] = ()
    extra_trusted: str = ""

    def program(self, submission: Submission) -> tuple[Program, list[str]]:
        """The worker program for this part of ``submission``, and problems finding its code."""
        trusted = [("prelude", course.PRELUDE)]
        trusted += [(f"course cell {gid}", source) for gid, source in course.cells(self.course_cells).items()]
        if self.extra_trusted:
            trusted.append((f"{self.tag} setup", self.extra_trusted))
        student, problems = submission.code_for(self.student_cells, self.student_names)
        return Program(trusted=trusted, student=student), problems


PARTS: tuple[Part, ...] = (
    Part("part-a", "Part A: attention from scratch", ("sdpa", "mha"),
         ("scaled_dot_product_attention", "MultiHeadAttention")),
    Part("part-b-hook", "Part B: the attention hook", ("attention_hook",),
         ("make_attention_hook", "register_attention_hook"),
         course_cells=course.PART_B_CELLS, extra_trusted=course.REFERENCE_ATTENTION),
    Part("part-b-fix", "Part B: the fixed encoder layer", ("fixed_encoder",), ("FixedTransformerEncoderLayer",),
         course_cells=course.PART_B_CELLS, extra_trusted=course.REFERENCE_ATTENTION),
    Part("part-c", "Part C: Hugging Face", ("tokenize_fn", "compute_metrics"), ("tokenize_fn", "compute_metrics"),
         extra_trusted=course.PART_C_SETUP),
)
PARTS_BY_TAG = {part.tag: part for part in PARTS}
