"""Command line: ``python -m autograder grade SUBMISSION [--json OUT]``, ``grade-all SUBMITTED_DIR [--out OUTDIR]``.

A path the command cannot use (missing, unreadable, not a notebook or script, an output it
cannot write) is the user's mistake, not the grader's: one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from autograder.assignment.parts import PARTS
from autograder.batch.discover import SUBMISSION_SUFFIXES
from autograder.grading.feedback import FEEDBACK_ENV, LEVELS
from autograder.sandbox.limits import Limits

USAGE_ERROR = 2


def _problem(exc: Exception) -> str:
    """An error as one line a person reads: "Permission denied: results.json"."""
    reason = getattr(exc, "strerror", None) or str(exc)
    filename = getattr(exc, "filename", None)
    return f"{reason}: {filename}" if filename else reason


def submission_problem(path: Path) -> str | None:
    """Why ``path`` cannot be graded as a submission file, or None if it can be read."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_file():
        return f"{path} is not a file (to grade a folder of submissions, use grade-all)"
    if path.suffix not in SUBMISSION_SUFFIXES:
        return f"{path} is not a notebook (.ipynb) or a script (.py)"
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return None


def _limits(args: argparse.Namespace) -> Limits | None:
    return Limits(submission_seconds=args.time_budget) if args.time_budget else None


def _grade(args: argparse.Namespace) -> int:
    problem = submission_problem(Path(args.submission))
    if problem:
        print(f"grade: {problem}", file=sys.stderr)
        return USAGE_ERROR
    from autograder.sandbox.zygote import start_early

    start_early()  # the workers' zygote imports torch on the other core while this process imports the engine
    from autograder.grading.engine import grade_submission  # here, so that grade-all's supervisor does not import torch

    report = grade_submission(args.submission, parts=args.parts, limits=_limits(args))
    print(report.text())
    if args.json:
        try:
            report.save(args.json)
        except OSError as exc:
            print(f"grade: cannot write the results: {_problem(exc)}", file=sys.stderr)
            return USAGE_ERROR
    return 0


def _grade_all(args: argparse.Namespace) -> int:
    from autograder.batch.isolate import DEFAULT_TIMEOUT
    from autograder.batch.outputs import summarize, summary_text
    from autograder.batch.run import grade_all

    timeout = args.timeout or DEFAULT_TIMEOUT
    if args.time_budget and args.time_budget >= timeout:  # the process would be killed before the budget could flag it
        print(f"grade-all: --time-budget ({args.time_budget:g} s) must be shorter than the grading process's timeout "
              f"({timeout:g} s; raise it with --timeout)", file=sys.stderr)
        return USAGE_ERROR
    try:
        result = grade_all(args.submitted, args.out, jobs=args.jobs, scheduler=args.scheduler, parts=args.parts,
                           timeout=timeout, assignment=args.assignment,
                           limits=_limits(args), progress=not args.quiet, similarity=not args.no_similarity,
                           class_report=not args.no_report)
    except (ValueError, OSError) as exc:  # no such folder, several assignments, an output folder it cannot write
        print(f"grade-all: {_problem(exc)}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print("\ngrade-all: interrupted; run the same command again to grade the rest", file=sys.stderr)
        return 130
    print(summary_text(summarize(result.rows)), end="")
    print(f"\n{result.graded} graded now, {result.reused} unchanged and skipped, {len(result.failed)} failed "
          f"in {result.seconds:.1f} s; results in {result.out}/ (grades.csv, summary.txt, <student>/results.json)")
    return 1 if result.failed else 0


def seconds(text: str) -> float:
    """A positive number of seconds, for argparse."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value


def _add_time_budget(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--time-budget", type=seconds, metavar="SECONDS",
                        help=f"grading time of one whole submission (every part and check); past it the remaining "
                             f"checks score 0 and the submission is flagged (default: {Limits.submission_seconds:g})")


def _add_feedback(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--feedback", choices=LEVELS,
                        help=f"how much a failed check tells the student: full diagnosis, or brief (what failed and "
                             f"where to look); default: ${FEEDBACK_ENV}, else full")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade one notebook (.ipynb) or script (.py)",
                                description="Grade one notebook (.ipynb) or script (.py) and print a report. "
                                            "Exit status 2 if the file cannot be read.")
    grade.add_argument("submission")
    grade.add_argument("--json", metavar="OUT", help="write Gradescope-style results.json here")
    grade.add_argument("--parts", nargs="+", choices=[part.tag for part in PARTS], help="grade only these parts")
    _add_time_budget(grade)
    _add_feedback(grade)
    grade.set_defaults(handler=_grade)
    batch = commands.add_parser(
        "grade-all", help="grade a folder of submissions in parallel, resumably",
        description="Grade submitted/<student>/<assignment>/*.ipynb (nbgrader) or a flat folder of .ipynb/.py "
                    "files (student = file stem). Writes OUTDIR/<student>/results.json, grades.csv, summary.txt, "
                    "summary.json; skips submissions already graded unchanged by this engine version. "
                    "Exit status 1 if some submission could not be graded (its row says why), "
                    "2 if the folder cannot be used.")
    batch.add_argument("submitted", metavar="SUBMITTED_DIR")
    batch.add_argument("--out", metavar="OUTDIR", default="results", help="where results go (default: results)")
    batch.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                       help="grading processes at once on this machine (default: the number of CPUs)")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="grade on this Dask distributed scheduler instead")
    batch.add_argument("--parts", nargs="+", choices=[part.tag for part in PARTS], help="grade only these parts")
    batch.add_argument("--assignment", help="assignment folder name in the nbgrader layout (if there are several)")
    batch.add_argument("--timeout", type=seconds, metavar="SECONDS",
                       help="kill the grading process of a submission after this long (default: 1800)")
    _add_time_budget(batch)
    _add_feedback(batch)
    batch.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    batch.add_argument("--no-similarity", action="store_true",
                       help="do not flag pairs of students whose own code is alike (grades.csv, report.html)")
    batch.add_argument("--no-report", action="store_true", help="do not write the class report OUTDIR/report.html")
    batch.set_defaults(handler=_grade_all)
    from autograder.gradescope import add_command as add_gradescope_bundle  # no torch: --help stays fast

    add_gradescope_bundle(commands)
    from autograder.reporting.class_report import add_command as add_report

    add_report(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "feedback", None):  # the setting every grading process it starts reads
        os.environ[FEEDBACK_ENV] = args.feedback
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
