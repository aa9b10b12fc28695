"""nbgrader's autograde pipeline with trusted grades: the steps ``nbgrader_config.py`` names.

nbgrader scores a test cell from what the student's kernel printed, which the student's code
controls.  With these steps ``nbgrader autograde`` records the engine's out-of-process verdicts
instead, and never ends a student's autograde without a grade or a flag:

sanitize pass (``c.Autograde.sanitize_preprocessors``, ``c.Autograde.exporter_class``)
    ``SalvagingNotebookExporter`` reads a submission that is not valid JSON from the cells
    recoverable in it; ``RepairCellMetadata`` gives every cell the course's nbgrader metadata
    for its grade_id (and flags what the file said otherwise); ``RestoreMissingCells``
    (nbgrader's ``OverwriteCells``) also puts back graded cells that are missing.
autograde pass (``c.Autograde.autograde_preprocessors``)
    ``StartTrustedGrading`` starts the engine's grading of the code in the background, so that
    it runs while the kernel does; ``TolerantExecute`` runs the notebook like nbgrader's
    ``Execute`` but records a kernel that dies or hangs and stops there; ``TrustedVerdicts``
    (before ``SaveAutoGrades``) takes that grading if it graded exactly the code in front of it
    (or grades again), in a child process with memory and time limits (``enginechild``), and
    rewrites every autograded test cell's outputs so that nbgrader reads exactly the engine's
    score; ``RecordFlags`` (after ``SaveAutoGrades``) flags the notebook in the gradebook with
    the reasons.
export (``c.ExportApp.plugin_class``)
    ``FlaggedCsvExport`` is nbgrader's CSV with ``flagged`` and ``flags`` columns.

The kernel of the autograde pass runs confined (``confinedkernel``).  One class per module,
as in ``nbgrader.preprocessors``.
"""
from importlib import import_module

# Imported on first use, so that the kernel launcher (python -m ...confinedkernel) starts lean.
_MODULES = {"FlaggedCsvExport": "flaggedcsvexport", "RecordFlags": "recordflags",
            "RepairCellMetadata": "repaircellmetadata", "RestoreMissingCells": "restoremissingcells",
            "SalvagingNotebookExporter": "salvagingexporter", "StartTrustedGrading": "starttrustedgrading",
            "TolerantExecute": "tolerantexecute", "TrustedVerdicts": "trustedverdicts"}
__all__ = sorted(_MODULES)


def __getattr__(name: str):
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)
