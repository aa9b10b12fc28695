"""nbgrader configuration of the Transformer course; the repository root is the course directory."""
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, ClearHiddenTests, Execute, GetGrades,
                                    IgnorePattern, LimitOutput, SaveAutoGrades)

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

# Each cell gets two minutes; the heavy training cells skip themselves under NBGRADER_EXECUTION.
c.Execute.timeout = 120

# Autograde: OverwriteCells (a default sanitize step) restores edited or deleted test and locked
# cells from the gradebook before the notebook runs.
c.Autograde.autograde_preprocessors = [
    Execute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    # TRUSTED-VERDICTS: the engine's out-of-process verdicts go in here, before SaveAutoGrades.
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadata,
]

# Feedback shows per-check results but never the source of the hidden tests.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]
