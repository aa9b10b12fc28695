"""The tampering scan: every tampering fixture and hostile attack gets exactly its flags, no honest
notebook gets any, and no source (huge, deeply nested, broken) costs a traceback or unbounded time."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from autograder.assignment import tamper_scan
from autograder.assignment.submission import load_submission
from autograder.assignment.tamper_scan import scan_cells, scan_submission

ROOT = Path(__file__).resolve().parents[2]
SUBMISSIONS = ROOT / "tests" / "submissions"
TAMPERING = SUBMISSIONS / "tampering"
HONEST_GROUPS = ("notebooks", "part_a", "part_b", "part_c", "visible")


def _fixtures(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.suffix in (".py", ".ipynb"))


def _honest_files() -> list[Path]:
    files = [path for group in HONEST_GROUPS for path in sorted((SUBMISSIONS / group).iterdir())
             if path.suffix in (".py", ".ipynb")]
    for folder in ("samples/submitted", "solutions", "source", "release"):
        files += sorted(path for path in (ROOT / folder).rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts)
    return files


def test_every_fixture_has_its_expected_flags_listed(expected_verdicts):
    expected = expected_verdicts("tampering")
    assert sorted(name for name in expected if not name.startswith("_")) == _fixtures(TAMPERING)
    assert sorted(expected["_hostile"]) == _fixtures(SUBMISSIONS / "hostile")


@pytest.mark.parametrize("name", _fixtures(TAMPERING))
def test_tampering_fixture_gets_exactly_its_flags(name, expected_verdicts):
    assert scan_submission(load_submission(TAMPERING / name)) == expected_verdicts("tampering")[name]["flags"]


@pytest.mark.parametrize("name", _fixtures(SUBMISSIONS / "hostile"))
def test_hostile_attack_gets_exactly_its_flags(name, expected_verdicts):
    assert scan_submission(load_submission(SUBMISSIONS / "hostile" / name)) == \
        expected_verdicts("tampering")["_hostile"][name]["flags"]


def test_the_attacks_of_issue_14_are_flagged(expected_verdicts):
    """Frame walks, a __code__ swap through sys.modules, dup2 of /dev/null, exec by pieces, a gc walk."""
    expected = expected_verdicts("tampering")
    wanted = {"frame_walk_history.py": ("sys._getframe", "f_back", "f_locals"),
              "code_swap_via_sys_modules.py": ("sys.modules", "PROBES", "__code__"),
              "silence_monitor_dup2.py": ("os.dup2", "'/proc/self/fd'"),
              "builtins_by_pieces.py": ("__builtins__", "'exec'", "builtins.exec"),
              "gc_walk.py": ("gc.get_objects", "gc.get_referrers")}
    for name, words in wanted.items():
        text = "\n".join(expected[name]["flags"])
        assert all(word in text for word in words), (name, words, text)


def test_no_flag_on_any_honest_notebook():
    files = _honest_files()
    assert len(files) >= 60, len(files)
    scanned = 0
    for path in files:
        submission = load_submission(path)
        scanned += sum(1 for cell in submission.cells if cell.source.strip())
        assert scan_submission(submission) == [], path
    assert scanned >= 100, scanned


def test_provided_cells_are_not_scanned_but_added_and_answer_cells_are(expected_verdicts):
    flags = expected_verdicts("tampering")["notebook_cells.ipynb"]["flags"]
    assert [flag.split(", line")[0] for flag in flags] == [
        "tampering: cell sdpa", "tampering: a cell you added after sdpa", "tampering: a cell you added after sdpa"]


def test_the_scan_is_deterministic():
    sources = [(f"cell {n}", (TAMPERING / name).read_text()) for n, name in enumerate(_fixtures(TAMPERING))
               if name.endswith(".py")]
    assert scan_cells(sources) == scan_cells(list(sources)) != []


def test_aliases_hold_across_cells_as_in_one_kernel():
    flags = scan_cells([("cell a", "import os as o\nwalk = o.dup2\n"), ("cell b", "walk(0, 7)\nw = walk\n")])
    assert flags == ["tampering: cell a, line 2: os.dup2 (replaces or closes file descriptors)",
                     "tampering: cell b, lines 1 and 2: os.dup2 (replaces or closes file descriptors)"]


def test_a_local_name_shadows_a_builtin_but_not_the_module_scope():
    assert scan_cells([("c", "def run(model, eval=False, compile=None):\n    return eval or compile\n")]) == []
    assert scan_cells([("c", "def f():\n    exec = 1\n\nexec('x = 1')\n")]) == [
        "tampering: c, line 4: builtins.exec (runs code the scan cannot read)"]


# --------------------------------------------------------------------------- bounded, never a traceback

def _timed(cells: list[tuple[str, str]]) -> tuple[list[str], float]:
    started = time.perf_counter()
    flags = scan_cells(cells)
    return flags, time.perf_counter() - started


@pytest.mark.parametrize("source, reason", [
    ("x = " + "-" * 50_000 + "1\n", "code nested too deeply to parse"),
    ("x = a" + ".b" * 45_000 + "\n", "code nested too deeply to parse"),
    ("x = " + " + ".join(["'a'"] * 15_000) + "\n", "code nested too deeply to parse"),
    ("x = 1\n" * (tamper_scan.MAX_CELL_CHARS // 6 + 1), f"a cell of {6 * (tamper_scan.MAX_CELL_CHARS // 6 + 1):,} characters"),
])
def test_an_unscannable_cell_gives_one_flag(source, reason):
    flags, seconds = _timed([("cell big", source)])
    assert flags == [f"tampering: cell big, line 1: {reason} (the scan could not read this cell)"]
    assert seconds < 20, seconds


def test_too_many_syntax_nodes_in_all_cells_give_one_flag():
    cells = [(f"cell {n}", "x = [" + "1, " * 20_000 + "]\n") for n in range(10)]
    flags, seconds = _timed(cells)
    assert flags == [f"tampering: cell 4, line 1: over {tamper_scan.MAX_NODES:,} syntax nodes in the cells "
                     "(the scan could not read this cell)"]
    assert seconds < 30, seconds


@pytest.mark.parametrize("source", [
    "def broken(:\n    pass\n",                                 # does not run either: the loader says so
    "x = " + "(" * 300 + ")" * 300 + "\n",                       # too many parentheses: a SyntaxError
    "x = 'a\x00b'\n",                                            # a null byte
    "x = " + "[" * 150 + "]" * 150 + "\n",                       # deep, but parsed
    "x = " + " + ".join(["'a'"] * 2_000) + "\n",                 # a long chain of pieces
    "x = '" + "y" * 90_000 + "'\n",                              # one long string
])
def test_odd_sources_give_no_flag_and_no_traceback(source):
    flags, seconds = _timed([("cell odd", source)])
    assert flags == [] and seconds < 20, (flags, seconds)


def test_pieces_that_hide_are_found_even_in_a_long_chain():
    source = "x = getattr(sys, " + " + ".join(["''"] * 5000) + " + '_getf' + 'rame')\n"
    flags, seconds = _timed([("cell chain", source)])
    assert flags and seconds < 20, flags


def test_the_number_of_flags_is_capped():
    cells = [(f"cell {n}", "import ctypes\n") for n in range(3 * tamper_scan.MAX_FLAGS)]
    flags = scan_cells(cells)
    assert len(flags) == tamper_scan.MAX_FLAGS
    assert flags[-1] == f"tampering: {2 * tamper_scan.MAX_FLAGS + 1} more kinds of tampering in the code (not listed)"
