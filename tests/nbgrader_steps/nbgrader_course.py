"""A throwaway nbgrader course made of (a cut of) the real source notebook, and what students submit to it.

Shared by the nbgrader pipeline tests and the PostgreSQL gradebook test.
"""
from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from autograder.grading.engine import grade_submission
from autograder.grading.scoring import recorded_cell_score

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "source" / "transformer" / "transformer.ipynb"
ASSIGNMENT = "transformer"
PART_A_CELLS = ("title", "task0_instructions", "task0_reflection", "setup_intro", "setup", "parta_intro", "sdpa",
                "test_sdpa", "mha_intro", "mha", "test_mha")
PART_A = ["part-a"]
CELL_TIMEOUT = 120  # the course's own limit: heavy imports can be slow on a loaded machine
HANG_MARKER, HANG_TIMEOUT = "# this cell hangs", 8  # a short limit for the one cell meant to hang


def nbgrader(course: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run one nbgrader command in ``course`` as an instructor would (its nbgrader_config.py applies)."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("NBGRADER_EXECUTION", None)
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                            text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-6000:]}")
    return result


def grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def make_course(folder: Path, cells: tuple[str, ...] | None = PART_A_CELLS, *, parts: list[str] | None = PART_A,
                db_url: str | None = None) -> Path:
    """A course directory with our nbgrader_config.py and (a cut of) the real source notebook, released.

    Test settings go after the course's own config: only the cells' time limit, the parts graded
    and the gradebook's location change, never the pipeline.
    """
    source = nbformat.read(SOURCE, as_version=4)
    if cells is not None:
        source.cells = [cell for cell in source.cells if grade_id(cell) in cells]
    (folder / "source" / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(source, folder / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    config = (ROOT / "nbgrader_config.py").read_text()
    config += (f"\n# test course\nc.Execute.timeout = {CELL_TIMEOUT}\n"
               f"c.Execute.timeout_func = lambda cell: {HANG_TIMEOUT} if {HANG_MARKER!r} in cell.source else {CELL_TIMEOUT}\n")
    if parts:
        config += f"c.TrustedVerdicts.parts = {parts!r}\n"
    if db_url:
        config += f"c.CourseDirectory.db_url = {db_url!r}\n"
    (folder / "nbgrader_config.py").write_text(config)
    nbgrader(folder, "generate_assignment", ASSIGNMENT, "--force")
    return folder


def solved(course: Path, replace: dict[str, str] | None = None, append: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """The released notebook with the source's solutions filled in, then edited like a student would."""
    release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    source = {grade_id(cell): cell for cell in nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                                                               as_version=4).cells}
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "\n".join(line for line in source[grade_id(cell)].source.splitlines()
                                    if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)
        for old, new in (replace or {}).get(grade_id(cell), {}).items():
            assert old in cell.source, f"{old!r} not in cell {grade_id(cell)}"
            cell.source = cell.source.replace(old, new)
        if grade_id(cell) in (append or {}):
            cell.source += "\n" + append[grade_id(cell)]
    return release


def submit(course: Path, student: str, notebook: nbformat.NotebookNode | str) -> Path:
    path = course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(notebook if isinstance(notebook, str) else nbformat.writes(notebook))
    return path


def autograde(course: Path, students: list[str], processes: int = 2) -> dict[str, subprocess.CompletedProcess]:
    """``nbgrader autograde`` once per student, ``processes`` of them at a time on the same gradebook."""
    with ThreadPoolExecutor(processes) as pool:
        runs = pool.map(lambda s: nbgrader(course, "autograde", ASSIGNMENT, "--student", s, "--force", check=False),
                        students)
        return dict(zip(students, runs))


def gradebook_scores(db_url: str, student: str) -> dict[str, float | None]:
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {grade.name: grade.auto_score for grade in notebook.grades}


def gradebook_flags(db_url: str, student: str) -> tuple[bool, list[str]]:
    from nbgrader.api import Gradebook

    from autograder.nbgrader_steps.flags import submission_flags

    with Gradebook(db_url) as gradebook:
        return submission_flags(gradebook, ASSIGNMENT, student)


def expected_scores(submission: Path, points: dict[str, float], parts: list[str] | None = PART_A) -> dict[str, float]:
    """What the gradebook should hold for each autograded cell: the engine's score on the submitted file
    (in the cell's points), and 0 for a test cell the engine has no checks for."""
    cells = grade_submission(submission, parts=parts).cell_scores()
    return {cell: recorded_cell_score(*cells[cell], worth) if cell in cells else 0.0 for cell, worth in points.items()}


def autograded_points(course: Path) -> dict[str, float]:
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    return {grade_id(cell): float(cell.metadata.nbgrader["points"]) for cell in source.cells
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade")}


def db_url_of(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


# ----------------------------------------------------------------------------------- the submissions

NO_SCALING = {"sdpa": {"/ math.sqrt(d_k)": ""}}
CHEAT = """
# make every visible test pass, whatever the code computes
torch.allclose = lambda *args, **kwargs: True
np.allclose = lambda *args, **kwargs: True
"""
LEFTOVER = ["sleep", "913.25"]
KILL_KERNEL = f"\nimport os, subprocess\nsubprocess.Popen({LEFTOVER!r}, start_new_session=True)\nos._exit(1)\n"
HANG = f"\n{HANG_MARKER}\nimport signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"


TAMPER = """
import json, os, socket
_attempts = {{}}
def _attempt(name, action):
    try:
        action()
        _attempts[name] = "done"
    except Exception as exc:
        _attempts[name] = type(exc).__name__
_attempt("write into the grader's package", lambda: open({package!r} + "/kernel_was_here.txt", "w").close())
_attempt("open the gradebook for writing", lambda: open({gradebook!r}, "r+b").close())
_attempt("read the instructor's source", lambda: open({source!r}).read(10))
_attempt("read the reference solutions", lambda: open({reference!r}).read(10))
_attempt("connect to a TCP port", lambda: socket.create_connection(("127.0.0.1", 9), timeout=5).close())
_attempt("signal nbgrader", lambda: os.kill(os.getppid(), 0))
_attempt("write in its own folder", lambda: open("notes.txt", "w").close())
print("ATTEMPTS=" + json.dumps(_attempts))
"""


def tamper_cell(course: Path) -> str:
    """A cell that tries what a hostile kernel would: change the grader, the gradebook, read solutions..."""
    from autograder import nbgrader_steps

    return TAMPER.format(package=str(Path(nbgrader_steps.__file__).parent), gradebook=str(course / "gradebook.db"),
                         source=str(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"),
                         reference=str(ROOT / "autograder" / "assignment" / "reference.py"))


def truncated_in_mha(notebook: nbformat.NotebookNode) -> str:
    """The notebook's file cut off inside the mha cell, as an interrupted upload leaves it."""
    text = nbformat.writes(notebook)
    return text[:text.index("class MultiHeadAttention") + 40]
