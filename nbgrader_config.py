"""nbgrader configuration of the Transformer course; the repository root is the course directory."""
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
                                    AssignLatePenalties,
                                    CheckCellMetadata,
                                    ClearHiddenTests,
                                    ClearOutput,
                                    DeduplicateIds,
                                    GetGrades,
                                    IgnorePattern,
                                    LimitOutput,
                                    OverwriteKernelspec,
                                    SaveAutoGrades,
)

from autograder.nbgrader_steps import (
                                    FlaggedCsvExport,
                                    RecordFlags,
                                    RestoreMissingCells,
                                    SalvagingNotebookExporter,
                                    TolerantExecute,
                                    TrustedVerdicts,
)

c = get_config()  # noqa: F821 (provided by nbgrader)
root = Path(__file__).resolve().parent

c.CourseDirectory.course_id = "transformer-course"
c.CourseDirectory.root = str(root)
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
# Files a run of the notebook leaves beside it never go into releases or students' folders.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".hypothesis", "hf_results"]

# Each cell gets two minutes; the heavy training cells skip themselves under NBGRADER_EXECUTION.
c.Execute.timeout = 120

# Autograde, first pass (sanitize): a submission that is not valid JSON is read from the cells
# recoverable in it (and flagged); locked and test cells are restored from the gradebook, and
# graded cells the student deleted are put back (nbgrader's OverwriteCells, made robust).
c.Autograde.exporter_class = SalvagingNotebookExporter
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    RestoreMissingCells,
    CheckCellMetadata,
]
# Second pass: the student's kernel runs the notebook (a kernel that dies or hangs is recorded and
# ends the run, not the autograde), then the engine grades the code out of process and its
# verdicts replace the test cells' outputs, so SaveAutoGrades records the engine's scores;
# RecordFlags flags the notebook in the gradebook, with the reasons, when anything went wrong.
c.Autograde.autograde_preprocessors = [
    TolerantExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    TrustedVerdicts,
    SaveAutoGrades,
    RecordFlags,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Feedback shows per-check results but never the source of the hidden tests.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# Exported grades carry the autograder's flags (kernel died, not JSON, hostile code, ...).
c.ExportApp.plugin_class = FlaggedCsvExport
