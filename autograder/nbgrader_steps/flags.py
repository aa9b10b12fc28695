"""Where the autograde steps leave problems for a human to look at, and where they are read back.

A step that meets a problem (the kernel died, the file was not JSON, the engine lost a worker)
appends a sentence to the notebook's flag list in ``resources``; :class:`RecordFlags` stores
the list in the gradebook: ``SubmittedNotebook.flagged`` and one automatic comment whose lines
start with :data:`COMMENT_PREFIX`, which the formgrader, the feedback and the CSV export show.
"""
from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.api import Gradebook, MissingEntry

RESOURCES_KEY = "autograder"
COMMENT_PREFIX = "Autograder flag: "
SALVAGE_METADATA_KEY = "autograder_salvaged"
CARRIED_METADATA_KEY = "autograder_sanitize_flags"


def flags(resources: ResourcesDict) -> list[str]:
    """The flag list of the notebook being converted (created empty on first use)."""
    return resources.setdefault(RESOURCES_KEY, {}).setdefault("flags", [])


def add_flag(resources: ResourcesDict, reason: str) -> None:
    reasons = flags(resources)
    if reason not in reasons:
        reasons.append(reason)


def carry_flags(nb: NotebookNode, reasons: list[str]) -> None:
    """Keep the sanitize pass's flags for the autograde pass (each pass has its own ``resources``).

    Always reset, so that a submission cannot bring flags of its own.
    """
    nb.metadata.pop(CARRIED_METADATA_KEY, None)
    if reasons:
        nb.metadata[CARRIED_METADATA_KEY] = list(reasons)


def carried_flags(nb: NotebookNode) -> list[str]:
    value = nb.metadata.get(CARRIED_METADATA_KEY)
    return [str(reason) for reason in value] if isinstance(value, list) else []


def flags_in_comment(text: str | None) -> list[str]:
    return [line[len(COMMENT_PREFIX):] for line in (text or "").splitlines() if line.startswith(COMMENT_PREFIX)]


def submission_flags(gradebook: Gradebook, assignment: str, student: str) -> tuple[bool, list[str]]:
    """Whether a student's submission of an assignment is flagged, and the reasons autograde stored."""
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return False, []
    flagged, reasons = False, []
    for notebook in submission.notebooks:
        flagged = flagged or bool(notebook.flagged)
        for comment in notebook.comments:
            reasons += [f"{notebook.name}: {reason}" if len(submission.notebooks) > 1 else reason
                        for reason in flags_in_comment(comment.auto_comment)]
    return flagged or bool(reasons), reasons
