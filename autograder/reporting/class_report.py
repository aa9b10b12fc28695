"""``python -m autograder report RESULTS_DIR --out report.html``: one static page about the whole class.

The page opens offline (charts are PNG data URIs, no script, no external file) and shows what an
instructor asks after a batch: the score distribution overall and per part, each check's pass
rate, the most common failure messages per check grouped by what they say, the flagged
submissions and why, and the grading time where the results record it.  Every string that came
from a submission (student names, messages, flags) is HTML-escaped.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
from html import escape
from pathlib import Path

from autograder.reporting import plots
from autograder.reporting.class_data import (
    ClassResults,
    ReportError,
    common_diagnoses,
    from_results_dir,
    pass_rates,
)
from autograder.reporting.similarity import DEFAULT_THRESHOLD, similar_pairs, similarity_flags, submissions_in

USAGE_ERROR = 2
_SIMILAR = re.compile(r"^similar code to (.+): similarity ([\d.]+) ")
STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;padding:0 1.5em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
td.n{text-align:right}img{max-width:100%;display:block;margin:.5em 0}.muted{color:#666}
.charts{display:flex;flex-wrap:wrap;gap:1em}pre{white-space:pre-wrap;margin:0}"""


def _n(value: float | None) -> str:
    return "" if value is None else format(round(value, 4), "g")


def _img(uri: str, alt: str) -> str:
    return f'<img class="chart" src="{uri}" alt="{escape(alt)}">'


def _overview(results: ClassResults) -> str:
    graded = [s for s in results.students if s.status == "graded"]
    counts = {status: sum(s.status == status for s in results.students) for status in ("graded", "failed", "missing")}
    rows = [f"<tr><th>students</th><td class='n' id='count-students'>{len(results.students)}</td></tr>"]
    rows += [f"<tr><th>{status}</th><td class='n' id='count-{status}'>{count}</td></tr>" for status, count in counts.items()]
    if graded:
        totals = [s.total for s in graded]
        out_of = statistics.mode(s.max_score for s in graded)
        for label, value in (("mean", statistics.fmean(totals)), ("median", statistics.median(totals)),
                             ("min", min(totals)), ("max", max(totals))):
            rows.append(f"<tr><th>{label} score</th><td class='n' id='score-{label}'>{_n(value)} / {_n(out_of)}</td></tr>")
    return "<table>" + "".join(rows) + "</table>"


def _distribution(results: ClassResults) -> str:
    graded = [s for s in results.students if s.status == "graded"]
    if not graded:
        return "<p>No graded submissions.</p>"
    out_of = statistics.mode(s.max_score for s in graded)
    charts = [_img(plots.histogram([s.total for s in graded], out_of, "all parts"), "score distribution")]
    for column in results.columns:
        got = [s.parts[column] for s in graded if s.parts.get(column) is not None]
        if got:
            column_max = max(sum(c.max_score for c in s.checks if column in (c.part, c.test_cell)) for s in graded)
            charts.append(_img(plots.histogram(got, column_max, column, width=4.0), f"score distribution of {column}"))
    return '<div class="charts">' + "".join(charts) + "</div>"


def _checks(results: ClassResults) -> str:
    rates = pass_rates(results)
    if not rates:
        return "<p>No verdicts to show.</p>"
    labels = [f"{name} ({_n(points)} pt{'s' if points != 1 else ''})" for name, _, points, _, _ in rates]
    rows = "".join(f"<tr class='check' data-check='{escape(name)}'><td>{escape(name)}</td><td>{escape(part)}</td>"
                   f"<td class='n'>{_n(points)}</td><td class='n'>{round(100 * rate)}%</td><td class='n'>{attempts}</td></tr>"
                   for name, part, points, rate, attempts in rates)
    return (_img(plots.pass_rates(labels, [rate for *_, rate, _ in rates]), f"pass rate per {results.unit}") +
            f"<table><tr><th>{results.unit}</th><th>part</th><th>points</th><th>passing</th><th>of</th></tr>{rows}</table>")


def _diagnoses(results: ClassResults) -> str:
    grouped = common_diagnoses(results)
    if not grouped:
        return "<p>No failing checks.</p>" if results.unit == "check" else (
            "<p>Not available: the gradebook has no per-check messages (see the note above).</p>")
    order = [name for name, *_ in pass_rates(results) if name in grouped]
    parts = []
    for name in order:
        rows = "".join(f"<tr><td class='n'>{count}</td><td><pre>{escape(message)}</pre></td>"
                       f"<td>{escape(', '.join(who[:8]) + (' …' if len(who) > 8 else ''))}</td></tr>"
                       for count, message, who in grouped[name])
        parts.append(f"<h3>{escape(name)}</h3><table><tr><th>students</th><th>message (example)</th><th>who</th></tr>"
                     f"{rows}</table>")
    return "".join(parts)


def _flagged(results: ClassResults) -> str:
    flagged = [s for s in results.students if s.flags]
    if not flagged:
        return "<p>No submission is flagged.</p>"
    rows = "".join(f"<tr class='flagged'><td>{escape(s.student)}</td><td>{escape(s.status)}</td><td><ul>" +
                   "".join(f"<li>{escape(flag)}</li>" for flag in s.flags) + "</ul></td></tr>" for s in flagged)
    return f"<table><tr><th>student</th><th>status</th><th>reasons</th></tr>{rows}</table>"


def _similar(results: ClassResults) -> str:
    """The pairs the similarity flags name (each pair once), most similar first."""
    pairs = {}
    for student in results.students:
        for flag in student.flags:
            match = _SIMILAR.match(flag)
            if match:
                pairs[tuple(sorted((student.student, match[1])))] = float(match[2])
    if not pairs:
        return "<p>No pair of submissions is flagged as similar.</p>"
    rows = "".join(f"<tr class='similar'><td>{escape(a)}</td><td>{escape(b)}</td><td class='n'>{score:.2f}</td></tr>"
                   for (a, b), score in sorted(pairs.items(), key=lambda item: (-item[1], item[0])))
    return f"<table><tr><th>student</th><th>student</th><th>similarity</th></tr>{rows}</table>"


def _students(results: ClassResults) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in results.columns)
    rows = []
    for s in results.students:
        cells = "".join(f"<td class='n' data-column='{escape(c)}'>{_n(s.parts.get(c))}</td>" for c in results.columns)
        rows.append(f"<tr class='student' data-student='{escape(s.student)}'><td>{escape(s.student)}</td>{cells}"
                    f"<td class='n total'>{_n(s.total)}</td><td class='n max'>{_n(s.max_score)}</td>"
                    f"<td class='status'>{escape(s.status)}</td><td class='n'>{len(s.flags)}</td></tr>")
    return (f"<table><tr><th>student</th>{head}<th>total</th><th>max</th><th>status</th><th>flags</th></tr>"
            + "".join(rows) + "</table>")


def _timing(results: ClassResults) -> str:
    timed = sorted(((s.seconds, s.student) for s in results.students if s.seconds is not None), reverse=True)
    if not timed:
        return "<p id='timing-missing'>Grading time is not recorded in these results.</p>"
    return _img(plots.durations([name for _, name in timed], [sec for sec, _ in timed]), "grading time per submission")


def render(results: ClassResults) -> str:
    """The whole page."""
    notes = "".join(f"<p class='muted'>Note: {escape(note)}</p>" for note in results.notes)
    sections = [("Overview", _overview(results)), ("Score distribution", _distribution(results)),
                (f"Pass rate per {results.unit}, lowest first", _checks(results)),
                ("Most common failure messages", _diagnoses(results)), ("Flagged submissions", _flagged(results)),
                ("Similar code", _similar(results)),
                ("Grading time per submission", _timing(results)), ("Students", _students(results))]
    body = "".join(f"<h2>{title}</h2>{html}" for title, html in sections)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class report</title>"
            f"<style>{STYLE}</style></head><body><h1>Class report</h1>"
            f"<p class='muted'>From {escape(results.source)}.</p>{notes}{body}</body></html>\n")


def write_report(results_dir: Path, out: Path, gradebook_url: str | None = None, assignment: str | None = None,
                 submitted: Path | None = None, threshold: float = DEFAULT_THRESHOLD) -> Path:
    """Write the page for grade-all's ``results_dir``, or for the gradebook at ``gradebook_url``; return ``out``.

    With a gradebook, ``results_dir`` is the nbgrader course folder, whose ``autograded/`` has the
    per-check feedback.  With ``submitted`` (the folder that was graded), pairs of submissions whose
    own code is alike are flagged here too, when grading did not already.  Raises
    :class:`ReportError` when there is nothing to report on.
    """
    if gradebook_url:
        from autograder.reporting.gradebook import from_gradebook

        results = from_gradebook(gradebook_url, assignment, Path(results_dir) / "autograded")
    else:
        results = from_results_dir(Path(results_dir))
    if submitted is not None:
        _add_similarity_flags(results, Path(submitted), threshold)
    out = Path(out)
    out.write_text(render(results), encoding="utf-8")
    return out


def _add_similarity_flags(results: ClassResults, submitted: Path, threshold: float) -> None:
    try:
        files = submissions_in(submitted, results.assignment)
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the submissions in {submitted}: {exc}") from exc
    flags = similarity_flags(similar_pairs(files, threshold))
    for student in results.students:
        student.flags += [flag for flag in flags.get(student.student, []) if flag not in student.flags]


def _report(args: argparse.Namespace) -> int:
    out = Path(args.out) if args.out else Path(args.results_dir) / "report.html"
    try:
        written = write_report(Path(args.results_dir), out, args.gradebook, args.assignment,
                               Path(args.submitted) if args.submitted else None, args.threshold)
    except ReportError as exc:
        print(f"report: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except OSError as exc:
        print(f"report: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR
    print(f"class report written to {written}")
    return 0


def add_command(subparsers: argparse._SubParsersAction) -> None:
    """``report RESULTS_DIR [--out report.html] [--gradebook URL] [--assignment NAME]``."""
    parser = subparsers.add_parser(
        "report", help="write one HTML page about the whole class (plots, pass rates, common mistakes, flags)",
        description="Write a static HTML class report from grade-all's RESULTS_DIR (grades.csv and "
                    "<student>/results.json), or, with --gradebook, from nbgrader's gradebook (RESULTS_DIR is then "
                    "the course folder, whose autograded/ notebooks give the per-check feedback). "
                    "Exit status 2 if there is nothing to report on.")
    parser.add_argument("results_dir", metavar="RESULTS_DIR")
    parser.add_argument("--out", metavar="HTML", help="where the page goes (default: RESULTS_DIR/report.html)")
    parser.add_argument("--gradebook", metavar="URL",
                        help="nbgrader gradebook URL, e.g. sqlite:///gradebook.db or postgresql://user@host/db")
    parser.add_argument("--assignment", help="the assignment in the gradebook (if it has several)")
    parser.add_argument("--similarity", dest="submitted", metavar="SUBMITTED_DIR",
                        help="also flag pairs of submissions in SUBMITTED_DIR whose own code is alike")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                        help=f"similarity from which a pair is flagged (default: {DEFAULT_THRESHOLD:g})")
    parser.set_defaults(handler=_report)
