"""Pairs of submissions whose own code is alike: winnowed fingerprints (copydetect) of the students' cells.

Only what a student wrote is compared: the cells whose grade_id is not a provided or test cell
(answer cells and cells they added), as :mod:`autograder.assignment.submission` reads them.  Every
code cell of the release notebook (provided code and the answer cells' stubs, signatures and
docstrings) is boilerplate: fingerprints found there never count as shared.  copydetect's filter
renames every identifier and drops comments and whitespace, so renaming variables does not hide
a copy, and fingerprints are compared as sets, so reordering functions does not either.

A score is the larger of the two shares of a submission's fingerprinted code found in the other:
a student who copied one function into an otherwise empty notebook scores as high as a full copy.
A flag never changes points: it asks a person to look.
"""
from __future__ import annotations

import ast
import hashlib
import io
import itertools
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import nbformat

from autograder.assignment.course import SOURCE_NOTEBOOK, provided_cells
from autograder.assignment.submission import load_submission

RELEASE_NOTEBOOK = SOURCE_NOTEBOOK.parents[2] / "release" / "transformer" / "transformer.ipynb"
NOISE = 25        # k: a shared run shorter than this many filtered characters is never seen (copydetect's default)
GUARANTEE = 30    # a shared run this long is always seen; window = GUARANTEE - NOISE + 1 (copydetect's default)
MIN_CODE = 4 * NOISE  # filtered characters of own code below which a submission is not compared (nothing to copy)
DEFAULT_THRESHOLD = 0.95  # measured: disguised copies 0.96-1.0, code sharing one class 0.81-0.90, independent <= 0.62


def student_code(path: Path) -> str:
    """The code a student wrote (answer cells and added cells; a script: the whole file), one spelling.

    Each top-level statement is written as Python's own printer writes it (one spelling of
    parentheses, numbers and quotes, no comments), and the statements are sorted by their form with
    every name replaced, so that reformatting a copy, moving its functions about or across cells, or
    renaming them changes nothing.  Code that does not parse is compared as written.
    """
    submission = load_submission(path)
    provided = provided_cells()
    return canonical("\n\n".join(cell.source for cell in submission.cells if cell.grade_id not in provided))


def canonical(source: str) -> str:
    try:
        statements = [ast.unparse(node) for node in ast.parse(source).body]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return source
    from copydetect.utils import filter_code

    return "\n".join(sorted(statements, key=lambda statement: filter_code(statement, "student.py")[0]))


@cache
def _boilerplate() -> tuple[int, ...]:
    """Fingerprints of what every student was given: the release's answer cells read as a student's, and each cell."""
    release = nbformat.read(RELEASE_NOTEBOOK, as_version=4)
    hashes = set(_fingerprint(student_code(RELEASE_NOTEBOOK), ()).hashes)
    for cell in release.cells:
        if cell.cell_type == "code":
            hashes |= _fingerprint(canonical(cell.source), ()).hashes
    return tuple(sorted(hashes))


def _stable_hash(text: str) -> int:
    """A k-gram's hash that is the same in every process (Python's own ``hash`` of a str is salted)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big",
                          signed=True)


def _fingerprint(code: str, boilerplate: Iterable[int]):
    import copydetect.utils
    from copydetect import CodeFingerprint

    # copydetect hashes k-grams with the builtin hash(), found as a global of its utils module:
    # a stable hash there makes the same class get the same similarity scores on every run.
    copydetect.utils.hash = _stable_hash

    return CodeFingerprint("student.py", NOISE, GUARANTEE - NOISE + 1, boilerplate=list(boilerplate),
                           fp=io.StringIO(code))


def similar_pairs(submissions: dict[str, Path], threshold: float = DEFAULT_THRESHOLD) -> list[tuple[str, str, float]]:
    """Every pair ``(a, b, score)`` with ``a < b`` whose score is at least ``threshold``, highest first.

    ``submissions`` maps a student to their notebook or script; a file that cannot be read is
    skipped (grading already flags it).  Scores are the same on every run (a stable k-gram hash).
    """
    return [pair for pair in all_scores(submissions) if pair[2] >= threshold]


def all_scores(submissions: dict[str, Path]) -> list[tuple[str, str, float]]:
    """The score of every comparable pair, highest first (what the threshold was chosen from)."""
    from copydetect import compare_files

    boilerplate = _boilerplate()
    prints = {}
    for student in sorted(submissions):
        try:
            code = student_code(submissions[student])
        except OSError:
            continue
        fingerprint = _fingerprint(code, boilerplate)
        if fingerprint.token_coverage >= MIN_CODE:
            prints[student] = fingerprint
    scores = []
    for a, b in itertools.combinations(sorted(prints), 2):
        _, (share_a, share_b), _ = compare_files(prints[a], prints[b])
        scores.append((a, b, round(float(max(share_a, share_b)), 3)))
    return sorted(scores, key=lambda pair: (-pair[2], pair[0], pair[1]))


def similarity_flags(pairs: Iterable[tuple[str, str, float]]) -> dict[str, list[str]]:
    """The flag text each student of a pair gets, naming the partner and the score."""
    flags: dict[str, list[str]] = {}
    for a, b, score in pairs:
        for student, partner in ((a, b), (b, a)):
            flags.setdefault(student, []).append(
                f"similar code to {partner}: similarity {score:.2f} (winnowed fingerprints of the code each wrote)")
    return flags


def submissions_in(folder: Path, assignment: str | None = None) -> dict[str, Path]:
    """Student -> file for a folder laid out as grade-all reads it (nbgrader's layout or a flat folder)."""
    from autograder.batch.discover import discover

    return {found.student: found.path for found in discover(folder, assignment) if found.path is not None}

