"""Command line: ``python -m autograder grade SUBMISSION [--json OUT]``."""
from __future__ import annotations

import argparse
import sys

from autograder.engine import grade_submission
from autograder.parts import PARTS


def _grade(args: argparse.Namespace) -> int:
    report = grade_submission(args.submission, parts=args.parts)
    print(report.text())
    if args.json:
        report.save(args.json)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade one notebook (.ipynb) or script (.py)")
    grade.add_argument("submission")
    grade.add_argument("--json", metavar="OUT", help="write Gradescope-style results.json here")
    grade.add_argument("--parts", nargs="+", choices=[part.tag for part in PARTS], help="grade only these parts")
    grade.set_defaults(handler=_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
