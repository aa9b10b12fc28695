"""Command line of the Gradescope bundle: ``gradescope-bundle OUT.zip`` for the main CLI, and the
bundle's own ``python -m autograder.gradescope build OUT.zip | run | check`` that its scripts call."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.assignment.parts import PARTS

USAGE_ERROR = 2


def _build(args: argparse.Namespace) -> int:
    from autograder.gradescope.bundle import build_bundle

    try:
        out = build_bundle(Path(args.out))
    except OSError as exc:
        print(f"gradescope-bundle: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR
    print(f"wrote {out}: upload it as the assignment's autograder (Configure Autograder -> Zip file upload)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from autograder.gradescope import run

    root = Path(args.root) if args.root else run.layout_root()
    results = run.grade(root, parts=args.parts)
    print(f"score {results['score']:g}; results in {run.write_results(root, results)}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from autograder.gradescope.check import run_checks

    return 0 if run_checks(Path(args.lock)) else 1


def add_command(subparsers: argparse._SubParsersAction, name: str = "gradescope-bundle") -> argparse.ArgumentParser:
    """Add ``NAME OUT.zip`` (build the bundle) to a CLI's subcommands; the lead's __main__ calls this."""
    parser = subparsers.add_parser(name, help="write the Gradescope autograder zip",
                                   description="Write the zip to upload as a Gradescope programming assignment's "
                                               "autograder: setup.sh, run_autograder, the engine, the lock and "
                                               "the course code (no solutions, tests or gradebook).")
    parser.add_argument("out", metavar="OUT.zip")
    parser.set_defaults(handler=_build)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_command(commands, "build")
    run = commands.add_parser("run", help="grade ROOT/submission/*.ipynb into ROOT/results/results.json")
    run.add_argument("--root", help="Gradescope's layout root (default: $AUTOGRADER_ROOT or /autograder)")
    run.add_argument("--parts", nargs="+", choices=[part.tag for part in PARTS], help="grade only these parts")
    run.set_defaults(handler=_run)
    check = commands.add_parser("check", help="check this environment can grade (what setup.sh --check runs)")
    check.add_argument("--lock", default=str(Path(__file__).resolve().parents[2] / "requirements.txt"),
                       help="the lock to compare the installed packages with (default: the bundle's)")
    check.set_defaults(handler=_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)
