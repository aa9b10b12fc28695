"""Start the engine's grading before the student's kernel runs, so that the two run at the same time.

The engine grades a notebook's code, not what its kernel printed (:mod:`.trustedverdicts`), and
the code is fixed once the sanitize pass is done.  Waiting for the kernel first made one
autograde the sum of the two; started here, first in ``c.Autograde.autograde_preprocessors``,
it is about the longer of them on a machine with a core to spare.  The kernel starts once the
grading process has imported the engine and read the course (half a second), so nothing the
kernel writes can change the code that grades it.  ``TrustedVerdicts`` later takes this grading
only if it graded exactly the code in front of it.
"""
from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode

from autograder.nbgrader_steps.trustedverdicts import TrustedVerdicts


class StartTrustedGrading(TrustedVerdicts):
    """The first half of ``TrustedVerdicts``, with its settings (``c.TrustedVerdicts.*`` apply to both)."""

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        self.start_grading(nb, resources)
        return nb, resources
