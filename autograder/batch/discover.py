"""Finding each student's submission in a folder: nbgrader's layout, a flat folder, or both."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

SUBMISSION_SUFFIXES = (".ipynb", ".py")
SKIPPED_DIRS = {".ipynb_checkpoints", "__pycache__"}


@dataclass(frozen=True)
class Found:
    """One student's submission as found on disk (``path`` is None when there is nothing to grade)."""

    student: str
    path: Path | None
    relative: str
    problems: tuple[str, ...] = ()


def discover(submitted: str | Path, assignment: str | None = None, exclude: Path | None = None) -> list[Found]:
    """Every student's submission under ``submitted``, sorted by student.

    Two layouts, also mixed: nbgrader's ``<student>/<assignment>/*.ipynb`` and a flat folder
    of ``.ipynb``/``.py`` files whose stem is the student id.  Odd cases (no notebook,
    several notebooks, two files for one student) become problems on that student's row,
    never an error for the batch; only an ambiguous assignment (several, none chosen) is.
    ``exclude`` is a folder not to take for a student's (the output folder, if it is inside).
    """
    root = Path(submitted)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a directory")
    skip = exclude.resolve() if exclude else None
    student_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not is_hidden(p) and p.resolve() != skip)
    if assignment is None:
        names = {a.name for d in student_dirs for a in d.iterdir() if a.is_dir() and not is_hidden(a)}
        if len(names) > 1:
            raise ValueError(f"several assignments found ({', '.join(sorted(names))}); choose one with --assignment")
        assignment = names.pop() if names else None
    found: dict[str, Found] = {}
    for student_dir in student_dirs:
        found[student_dir.name] = find_in_assignment(root, student_dir, assignment)
    flat: dict[str, list[Path]] = {}
    for path in sorted(root.iterdir()):
        if path.is_file() and path.suffix in SUBMISSION_SUFFIXES and not is_hidden(path):
            flat.setdefault(path.stem, []).append(path)
    for student, paths in flat.items():
        paths.sort(key=lambda p: (p.suffix != ".ipynb", p.name))  # a notebook wins over a script
        chosen = Found(student, paths[0], paths[0].relative_to(root).as_posix())
        previous = found.get(student)
        if previous is not None and previous.path is not None:  # the nbgrader folder wins over a loose file
            paths, chosen = [previous.path, *paths], previous
        others = [p.relative_to(root).as_posix() for p in paths if p != chosen.path]
        if others:
            chosen = dataclasses.replace(chosen, problems=chosen.problems + (
                f"{', '.join(others)} also found; {chosen.relative} was graded",))
        found[student] = chosen
    return [found[name] for name in sorted(found)]


def is_hidden(path: Path) -> bool:
    return path.name.startswith(".") or path.name in SKIPPED_DIRS


def find_in_assignment(root: Path, student_dir: Path, assignment: str | None) -> Found:
    """The notebook in ``<student>/<assignment>/``: the one named after the assignment if several."""
    folder = student_dir / assignment if assignment else student_dir
    where = folder.relative_to(root).as_posix()
    candidates = []
    if folder.is_dir():
        candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".ipynb" and not is_hidden(p))
        if not candidates:
            candidates = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == ".py" and not is_hidden(p))
    if not candidates:
        return Found(student_dir.name, None, where, (f"no notebook found in {where}/",))
    chosen = next((p for p in candidates if assignment and p.stem == assignment), candidates[0])
    problems: tuple[str, ...] = ()
    if len(candidates) > 1:
        problems = (f"several files in {where}/ ({', '.join(p.name for p in candidates)}); {chosen.name} was graded",)
    return Found(student_dir.name, chosen, chosen.relative_to(root).as_posix(), problems)
