"""The bundled sample submissions get the automatic points the README's table promises."""
from __future__ import annotations

import csv
import re
from pathlib import Path

from autograder.batch.run import grade_all

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ("part-a", "part-b-hook", "part-b-fix", "part-c", "total")


def readme_table() -> dict[str, tuple[str, ...]]:
    """student -> (part A, hook, fix, part C, automatic total), from the README's samples table."""
    section = (ROOT / "README.md").read_text().split("## The bundled samples", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[2].isdigit():
            rows[cells[0]] = tuple(cells[2:6]) + (re.sub(r"\D", "", cells[6].split(",")[0]),)
    return rows


def test_samples_get_the_grades_the_readme_states(tmp_path: Path) -> None:
    expected = readme_table()
    assert set(expected) == {path.name for path in (ROOT / "samples" / "submitted").iterdir() if path.is_dir()}
    grade_all(ROOT / "samples" / "submitted", tmp_path, jobs=2, progress=False)
    with open(tmp_path / "grades.csv", newline="") as handle:
        got = {row["student"]: tuple(f"{float(row[column]):g}" for column in COLUMNS) for row in csv.DictReader(handle)}
    assert got == expected
