"""Command line: ``python -m autograder grade SUBMISSION [--json OUT]``, ``grade-all SUBMITTED_DIR [--out OUTDIR]``."""
from __future__ import annotations

import argparse
import os
import sys

from autograder.assignment.parts import PARTS


def _grade(args: argparse.Namespace) -> int:
    from autograder.grading.engine import grade_submission  # here, so that grade-all's supervisor does not import torch

    report = grade_submission(args.submission, parts=args.parts)
    print(report.text())
    if args.json:
        report.save(args.json)
    return 0


def _grade_all(args: argparse.Namespace) -> int:
    from autograder.batch.isolate import DEFAULT_TIMEOUT
    from autograder.batch.outputs import summarize, summary_text
    from autograder.batch.run import grade_all

    try:
        result = grade_all(args.submitted, args.out, jobs=args.jobs, scheduler=args.scheduler, parts=args.parts,
                           timeout=args.timeout or DEFAULT_TIMEOUT, assignment=args.assignment,
                           progress=not args.quiet)
    except (NotADirectoryError, ValueError) as exc:
        print(f"grade-all: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ngrade-all: interrupted; run the same command again to grade the rest", file=sys.stderr)
        return 130
    print(summary_text(summarize(result.rows)), end="")
    print(f"\n{result.graded} graded now, {result.reused} unchanged and skipped, {len(result.failed)} failed "
          f"in {result.seconds:.1f} s; results in {result.out}/ (grades.csv, summary.txt, <student>/results.json)")
    return 1 if result.failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade one notebook (.ipynb) or script (.py)")
    grade.add_argument("submission")
    grade.add_argument("--json", metavar="OUT", help="write Gradescope-style results.json here")
    grade.add_argument("--parts", nargs="+", choices=[part.tag for part in PARTS], help="grade only these parts")
    grade.set_defaults(handler=_grade)
    batch = commands.add_parser(
        "grade-all", help="grade a folder of submissions in parallel, resumably",
        description="Grade submitted/<student>/<assignment>/*.ipynb (nbgrader) or a flat folder of .ipynb/.py "
                    "files (student = file stem). Writes OUTDIR/<student>/results.json, grades.csv, summary.txt, "
                    "summary.json; skips submissions already graded unchanged by this engine version. "
                    "Exit status 1 if some submission could not be graded (its row says why).")
    batch.add_argument("submitted", metavar="SUBMITTED_DIR")
    batch.add_argument("--out", metavar="OUTDIR", default="results", help="where results go (default: results)")
    batch.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1,
                       help="grading processes at once on this machine (default: the number of CPUs)")
    batch.add_argument("--scheduler", metavar="ADDRESS", help="grade on this Dask distributed scheduler instead")
    batch.add_argument("--parts", nargs="+", choices=[part.tag for part in PARTS], help="grade only these parts")
    batch.add_argument("--assignment", help="assignment folder name in the nbgrader layout (if there are several)")
    batch.add_argument("--timeout", type=float, metavar="SECONDS",
                       help="stop grading a submission after this long (default: 1800)")
    batch.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    batch.set_defaults(handler=_grade_all)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
