"""The class report: what it says, that it escapes what students wrote, and that a real browser renders it."""
from __future__ import annotations

import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from autograder.batch.files import save_report
from autograder.batch.outputs import Row, write_outputs
from autograder.grading.report import CheckResult, GradeReport
from autograder.reporting import class_report
from autograder.reporting.class_data import SECONDS_KEY, ReportError, message_group

HOSTILE_NAME = "mallory<script>alert(1)</script>"
HOSTILE_MESSAGE = "the weights differ\n<img src=x onerror=alert(2)>"
HOSTILE_FLAG = "kernel died <b onmouseover=alert(3)>here</b>"
D_K = "Your weights are what you get when the scores are divided by d_k instead of sqrt(d_k)."


def _checks(failing: dict[str, str]) -> list[CheckResult]:
    table = [("sdpa_values", "part-a", "test_sdpa", 3.0), ("sdpa_mask", "part-a", "test_sdpa", 3.0),
             ("mha_context", "part-a", "test_mha", 3.0), ("hook_stores_weights", "part-b-hook", "test_attention_hook", 4.0)]
    return [CheckResult(name, part, cell, 0.0 if name in failing else points, points, failing.get(name, ""))
            for name, part, cell, points in table]


def _report(failing: dict[str, str], flags: tuple[str, ...] = ()) -> GradeReport:
    return GradeReport("transformer.ipynb", "0" * 64, "test", _checks(failing), list(flags))


def make_results(out: Path) -> Path:
    """A class as grade-all writes it: results.json per student, then grades.csv and the summary."""
    case = "scaled_dot_product_attention(Q, K, V) with Q of shape ({}, 1, 1, 2):\nat index (0, 0) expected {}, got {}\n"
    rows = [
        Row("alice", "alice.ipynb", "graded", _report({})),
        Row("bob", "bob.ipynb", "graded", _report({"sdpa_values": case.format(1, 0.57, 0.55) + D_K})),
        Row("carol", "carol.ipynb", "graded", _report({"sdpa_values": case.format(3, 0.61, 0.6) + D_K,
                                                       "mha_context": "Your context vector is what you get when "
                                                                      "W_o is not applied to the merged heads."})),
        Row("dave", "dave.ipynb", "graded", _report({"sdpa_values": "the weights differ by 0.5 at 'x'",
                                                     "sdpa_mask": "masked keys get weight 0.25"})),
        Row("frank", "frank.ipynb", "graded", _report({"sdpa_mask": "masked keys get weight 0.31"})),
        Row(HOSTILE_NAME, "m.ipynb", "graded", _report({"sdpa_mask": HOSTILE_MESSAGE}, (HOSTILE_FLAG,))),
        Row("erin", "erin.ipynb", "failed", _report({name: "grading failed: timeout" for name in
                                                     ("sdpa_values", "sdpa_mask", "mha_context", "hook_stores_weights")},
                                                    ("grading failed: timeout",))),
    ]
    out.mkdir(parents=True, exist_ok=True)
    for row in rows:
        save_report(out, row.student, row.report)
    write_outputs(out, rows)
    return out


class Cells(HTMLParser):
    """The students table of a page: student -> {column: text}."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, str]] = {}
        self.student: str | None = None
        self.column: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        if tag == "tr" and attrs.get("class") == "student":
            self.student = attrs["data-student"]
            self.rows[self.student] = {}
        elif tag == "td" and self.student is not None:
            classes = (attrs.get("class") or "").split()
            self.column = attrs.get("data-column") or next((c for c in classes if c in ("total", "max", "status")), None)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self.student = None
        if tag == "td":
            self.column = None

    def handle_data(self, data: str) -> None:
        if self.student is not None and self.column:
            self.rows[self.student][self.column] = self.rows[self.student].get(self.column, "") + data


def table_of(page: str) -> dict[str, dict[str, str]]:
    parser = Cells()
    parser.feed(page)
    return parser.rows


def assert_matches_grades_csv(page: str, results: Path) -> None:
    shown = table_of(page)
    with (results / "grades.csv").open(newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert set(shown) == {line["student"] for line in lines}
    for line in lines:
        row = shown[line["student"]]
        assert row["status"] == line["status"]
        assert float(row["total"]) == float(line["total"]) and float(row["max"]) == float(line["max"])
        for column, value in row.items():
            if column.startswith("part-"):
                assert (float(value) if value else None) == (float(line[column]) if line[column] else None), column


def test_the_page_states_what_grades_csv_says(tmp_path: Path) -> None:
    results = make_results(tmp_path / "results")
    page = class_report.write_report(results, tmp_path / "report.html").read_text()
    assert_matches_grades_csv(page, results)
    assert re.search(r"id='count-students'>7<", page) and re.search(r"id='count-failed'>1<", page)


def test_the_same_mistake_is_counted_once_whatever_its_numbers(tmp_path: Path) -> None:
    page = class_report.write_report(make_results(tmp_path / "r"), tmp_path / "report.html").read_text()
    section = page.split("<h3>sdpa_values</h3>")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td class='n'>(\d+)</td><td><pre>(.*?)</pre></td><td>(.*?)</td></tr>", section)
    assert rows[0] == ("2", D_K, "bob, carol")
    assert rows[1][0] == "1" and rows[1][2] == "dave"
    section = page.split("<h3>sdpa_mask</h3>")[1].split("</table>")[0]
    assert re.findall(r"<tr><td class='n'>(\d+)</td><td><pre>masked keys get weight [\d.]+</pre></td>"
                      r"<td>(.*?)</td>", section) == [("2", "dave, frank")]


def test_messages_differing_in_numbers_or_quoted_names_group_together() -> None:
    assert message_group("name 'scores' is not defined") == message_group('name "attn" is not defined')
    assert message_group("expected 0.572235, got -1e-09 at (0, 3)") == message_group("expected 1, got 2.5E+3 at (1, 0)")
    assert message_group("scaled by d_k") != message_group("scaled by sqrt(d_k)")


def test_what_students_wrote_is_escaped(tmp_path: Path) -> None:
    page = class_report.write_report(make_results(tmp_path / "r"), tmp_path / "report.html").read_text()
    for raw in (HOSTILE_NAME, "<img src=x", "<b onmouseover"):
        assert raw not in page
    assert "mallory&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page and "kernel died &lt;b onmouseover=alert(3)&gt;" in page
    assert "<script" not in page  # the page runs nothing


def test_the_grading_time_is_shown_only_where_recorded(tmp_path: Path) -> None:
    results = make_results(tmp_path / "r")
    assert "Grading time is not recorded" in class_report.write_report(results, tmp_path / "a.html").read_text()
    for index, path in enumerate(sorted(results.glob("*/results.json"))):
        data = json.loads(path.read_text())
        data["extra_data"][SECONDS_KEY] = 10.0 + index
        path.write_text(json.dumps(data))
    page = class_report.write_report(results, tmp_path / "b.html").read_text()
    assert "Grading time is not recorded" not in page and 'alt="grading time per submission"' in page


def test_a_folder_without_grades_csv_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ReportError, match="no grades.csv"):
        class_report.write_report(tmp_path, tmp_path / "report.html")
    import argparse

    parser = argparse.ArgumentParser()
    class_report.add_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(tmp_path)])
    assert args.handler(args) == class_report.USAGE_ERROR
    assert "no grades.csv" in capsys.readouterr().err


def test_every_chart_renders_in_a_real_browser(tmp_path: Path, browser, screenshot) -> None:
    results = make_results(tmp_path / "results")
    page = class_report.write_report(results, tmp_path / "report.html")
    dom, images = browser(page)
    assert [alt for alt, *_ in images] == ["score distribution", "score distribution of part-a",
                                           "score distribution of part-b-hook", "pass rate per check"]
    assert all(complete and width > 100 and height > 100 and bars > 500 for _, complete, width, height, bars in images), images
    assert_matches_grades_csv(dom, results)
    assert HOSTILE_NAME not in dom and "mallory<script>" not in dom
    png = screenshot(page, tmp_path / "report.png", "1200,1600")
    from PIL import Image

    pixels = Image.open(png).convert("RGB").getcolors(maxcolors=1 << 22)
    assert sum(count for count, colour in pixels if colour == (0x4C, 0x72, 0xB0)) > 5000, "no bars on the screen"


@pytest.mark.slow
def test_the_report_on_the_bundled_samples_end_to_end(tmp_path: Path, browser) -> None:
    """grade-all on the samples (Part A, to be quick), then the report command, then chromium."""
    import argparse
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    results = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade-all", str(root / "samples" / "submitted"),
                           "--out", str(results), "--parts", "part-a", "--jobs", "2", "--quiet"],
                          capture_output=True, text=True, timeout=900, cwd=root, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    parser = argparse.ArgumentParser()
    class_report.add_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(results), "--similarity", str(root / "samples" / "submitted")])
    assert args.handler(args) == 0
    dom, images = browser(results / "report.html")
    assert len(images) == 3 and all(complete and width > 100 and bars > 500 for _, complete, width, _, bars in images)
    assert_matches_grades_csv(dom, results)
    assert "divided by d_k instead of sqrt(d_k)" in dom  # bob's mistake, as the checks diagnosed it
    similar = re.findall(r"<tr class=\"similar\"><td>(\w+)</td><td>(\w+)</td>", dom)
    assert set(similar) == {("alice", "carol"), ("alice", "erin"), ("carol", "erin")}
