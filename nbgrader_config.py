"""nbgrader configuration of the Transformer course; the repository root is the course directory."""
import warnings
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
from sqlalchemy.exc import SAWarning

from autograder.nbgrader_steps import (
                                    FlaggedCsvExport,
                                    RecordFlags,
                                    RepairCellMetadata,
                                    RestoreMissingCells,
                                    SalvagingNotebookExporter,
                                    StartTrustedGrading,
                                    TolerantExecute,
                                    TrustedVerdicts,
)

c = get_config()  # noqa: F821 (provided by nbgrader)

# nbgrader 0.9's Gradebook.update_or_create_submission builds a submission's notebooks, grades and
# comments, reading relationships before it adds them all to the session: SQLAlchemy 2 no longer
# cascades them in early and says so three times per autograde.  Nothing is lost (they are added
# right after), so that notice, and only it, is silenced.
warnings.filterwarnings("ignore", r"Object of type <\w+> not in session, add operation along '\w+\.\w+' will not proceed",
                        SAWarning)

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
# recoverable in it (and flagged); every cell's nbgrader metadata is the course's for its
# grade_id (a pasted copy, a lost grade_id, a flipped cell type or another schema_version is
# flagged, never fatal); locked and test cells are restored from the gradebook, and graded
# cells the student deleted are put back (nbgrader's OverwriteCells, made robust).
c.Autograde.exporter_class = SalvagingNotebookExporter
c.Autograde.sanitize_preprocessors = [
    RepairCellMetadata,
    ClearOutput,
    DeduplicateIds,
    OverwriteKernelspec,
    RestoreMissingCells,
    CheckCellMetadata,
]
# Second pass: the engine starts grading the code in a child process with memory and time limits
# (c.TrustedVerdicts.memory_limit, .time_limit) while the student's kernel runs the notebook (a
# kernel that dies or hangs is recorded and ends the run, not the autograde); then the engine's
# verdicts replace the test cells' outputs, so SaveAutoGrades records the engine's scores;
# RecordFlags flags the notebook in the gradebook, with the reasons, when anything went wrong.
c.Autograde.autograde_preprocessors = [
    StartTrustedGrading,
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
