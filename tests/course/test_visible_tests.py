"""The notebook's visible tests agree with the grader (issue 13).

A visible test is the part of a test cell above ``### BEGIN HIDDEN TESTS``, taken from the source
notebook.  Each one is run after a fixture's code in a namespace built like the notebook's while
grading (the ``setup`` cell with ``GRADING`` true, the Part B course cells, Part C's offline
tokenizer), and must pass or fail as the fixture's expectation says:
``tests/submissions/visible/existing_fixtures.json`` for the fixtures of part_a, part_b and part_c,
``tests/submissions/visible/expected.json`` for the fixtures of tests/submissions/visible/.

The agreement rules, checked on the grader's verdicts stored with those expectations (no grading
here): a fixture with full hidden marks for a test cell passes that cell's visible test (the
visible tests reject nothing the grader accepts), and a fixture named as a typical mistake of a
test cell loses hidden points there and fails that cell's visible test.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from autograder.assignment import course
from autograder.checks import ALL_CHECKS, TEST_CELLS

SUBMISSIONS = Path(__file__).resolve().parents[1] / "submissions"
VISIBLE = SUBMISSIONS / "visible"
GROUPS = ("part_a", "part_b", "part_c", "visible")
HIDDEN_MARKER = "### BEGIN HIDDEN TESTS"
# The course cells a visible test needs besides the setup cell (the notebook runs them above it).
NEEDS_PART_B = {"test_attention_hook", "test_fixed_encoder", "test_fixed_learning"}
NEEDS_PART_C = {"test_partc"}
MAX_POINTS = {cell: sum(c.points for c in ALL_CHECKS if c.test_cell == cell) for cell in TEST_CELLS}
# A test cell whose code runs on the student's code of an earlier one: the student's MultiHeadAttention
# calls their scaled_dot_product_attention in the notebook, while the grader judges it with the
# notebook's own when theirs is wrong.  The earlier cell's visible test tells them so first.
BUILDS_ON = {"test_mha": "test_sdpa"}


@cache
def expectations() -> dict[str, dict[str, Any]]:
    """"<group>/<file>" -> {"visible": {cell: "pass"|"fail"}, "hidden": {cell: points}, "mistakes": {cell: what},
    "visible_messages": {cell: text its failure must contain}}."""
    table = {key: value for key, value in json.loads((VISIBLE / "existing_fixtures.json").read_text()).items()
             if not key.startswith("_")}
    check_cell = {c.name: c.test_cell for c in ALL_CHECKS}
    for name, entry in json.loads((VISIBLE / "expected.json").read_text()).items():
        if name.startswith("_"):
            continue
        hidden = {cell: sum(points for check, points in entry["checks"].items() if check_cell[check] == cell)
                  for cell in entry["visible"]}
        table[f"visible/{name}"] = {**entry, "hidden": hidden}
    return table


def visible_source(cell: str) -> str:
    source = course.cells((cell,))[cell]
    assert HIDDEN_MARKER in source, f"{cell} has no hidden tests"
    return source.split(HIDDEN_MARKER)[0]


def run_visible(fixture: Path, cell: str) -> str | None:
    """Run ``cell``'s visible test after ``fixture``'s code; None if it passes, else what it raised."""
    extra = course.PART_B_CELLS if cell in NEEDS_PART_B else ()
    scope = course.namespace(("setup", *extra), base={"__name__": "__main__"})
    if cell in NEEDS_PART_C:
        exec(compile(course.PART_C_SETUP, "<part C setup>", "exec"), scope)
    try:
        exec(compile(fixture.read_text(), str(fixture), "exec"), scope)
        exec(compile(visible_source(cell), f"<visible {cell}>", "exec"), scope)
    except Exception as error:  # noqa: BLE001 - any failure of the student's code or the test is "fails"
        return f"{type(error).__name__}: {error}"
    return None


def _cases() -> list[tuple[str, str]]:
    return [(name, cell) for name, entry in sorted(expectations().items()) for cell in entry["visible"]]


@pytest.fixture(autouse=True)
def _grading(monkeypatch: pytest.MonkeyPatch) -> None:
    """GRADING is true in the setup cell, as under nbgrader: the heavy cells would skip themselves."""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")


@pytest.mark.parametrize(("name", "cell"), _cases())
def test_visible_outcome(name: str, cell: str, capsys: pytest.CaptureFixture[str]) -> None:
    expected = expectations()[name]["visible"][cell]
    failure = run_visible(SUBMISSIONS / name, cell)
    if expected == "pass":
        assert failure is None, f"the visible {cell} rejects {name}: {failure}"
        assert "Visible test" in capsys.readouterr().out
    else:
        assert failure is not None, f"the visible {cell} passes {name}, expected to fail"
        wanted = expectations()[name].get("visible_messages", {}).get(cell)
        assert wanted is None or wanted in failure, f"the visible {cell} fails {name} without saying {wanted!r}: {failure}"


def test_every_fixture_has_an_expectation() -> None:
    on_disk = {f"{group}/{path.name}" for group in GROUPS for path in (SUBMISSIONS / group).glob("*.py")}
    assert sorted(on_disk - expectations().keys()) == [], "fixtures without a visible-test expectation"
    assert sorted(expectations().keys() - on_disk) == [], "expectations for fixtures that do not exist"


def test_expectations_are_well_formed() -> None:
    for name, entry in expectations().items():
        assert set(entry["visible"].values()) <= {"pass", "fail"}, name
        assert set(entry["hidden"]) == set(entry["visible"]), name
        assert set(entry.get("mistakes", {})) <= set(entry["visible"]), name
        assert all(entry["visible"][cell] == "fail" for cell in entry.get("visible_messages", {})), name
        assert set(entry["visible"]) <= set(TEST_CELLS), name


@pytest.mark.parametrize("cell", TEST_CELLS)
def test_full_hidden_marks_pass_the_visible_test(cell: str) -> None:
    def earlier_cell_passes(entry: dict[str, Any]) -> bool:
        return cell not in BUILDS_ON or entry["visible"].get(BUILDS_ON[cell], "pass") == "pass"

    rejected = [name for name, entry in expectations().items()
                if entry["hidden"].get(cell) == MAX_POINTS[cell] and entry["visible"][cell] != "pass"
                and earlier_cell_passes(entry)]
    assert rejected == [], f"the visible {cell} rejects code that gets full hidden marks"


@pytest.mark.parametrize("cell", TEST_CELLS)
def test_typical_mistakes_fail_the_visible_test(cell: str) -> None:
    mistakes = {name: entry for name, entry in expectations().items() if cell in entry.get("mistakes", {})}
    assert mistakes, f"no typical mistake of {cell} is listed"
    assert any(entry["hidden"].get(cell) == MAX_POINTS[cell] for entry in expectations().values()
               if cell in entry["visible"]), f"no correct fixture for {cell}"
    for name, entry in mistakes.items():
        assert entry["hidden"][cell] < MAX_POINTS[cell], f"{name} is listed as a mistake of {cell} but gets full marks"
        assert entry["visible"][cell] == "fail", f"the visible {cell} must catch {name}: {entry['mistakes'][cell]}"


@pytest.mark.parametrize("group", ("part_a", "part_b", "part_c"))
def test_hidden_points_agree_with_the_groups_expected_verdicts(group: str) -> None:
    """The hidden points stored here are those the group's own expected.json gives (where it has them)."""
    path = SUBMISSIONS / group / "expected.json"
    if not path.exists():
        pytest.skip(f"{path} not written yet")
    check_cell = {c.name: c.test_cell for c in ALL_CHECKS}
    for file, verdict in json.loads(path.read_text()).items():
        entry = expectations().get(f"{group}/{file}")
        if file.startswith("_") or entry is None:
            continue
        for cell, points in entry["hidden"].items():
            graded = [p for check, p in verdict.get("checks", {}).items() if check_cell.get(check) == cell]
            if graded:
                assert sum(graded) == points, f"{group}/{file} {cell}: {sum(graded)} in expected.json, {points} here"
