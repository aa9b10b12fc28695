"""How long does grading one full submission take, and is it the same every time?

Grades one submission (all automatic parts) 5 times with the real command line,
`python -m autograder grade SUBMISSION --json OUT` (a fresh process each time, as a TA runs
it), prints each wall time and the median (target: at most 60 s), and whether the five
results.json files are byte-identical.

The submission is the first sample notebook (samples/submitted/*/transformer/transformer.ipynb)
when there is one, else the instructor notebook (source/transformer/transformer.ipynb); with
neither, a correct Part A script graded with --parts part-a (noted in the output).  Usage:

    .venv/bin/python benchmarks/full_submission_speed.py [--submission FILE] [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch_speed import PART_A_SCRIPT, ROOT, sample_notebook


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="full-speed-") as scratch:
        submission = args.submission or sample_notebook()
        instructor = ROOT / "source" / "transformer" / "transformer.ipynb"
        parts: list[str] = []
        if submission is None and instructor.exists():
            submission = instructor
        if submission is None:
            submission = Path(scratch) / "part_a.py"
            submission.write_text(PART_A_SCRIPT)
            parts = ["part-a"]
            print("NOTE: no sample or instructor notebook yet: grading a Part A script with --parts part-a only")
        print(f"submission: {submission}; parts: {', '.join(parts) or 'all'}", flush=True)
        times, outputs = [], []
        for run in range(1, args.runs + 1):
            out = Path(scratch) / f"results{run}.json"
            command = [sys.executable, "-m", "autograder", "grade", str(submission), "--json", str(out)]
            if parts:
                command += ["--parts", *parts]
            started = time.perf_counter()
            finished = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            times.append(time.perf_counter() - started)
            score = next((line for line in finished.stdout.splitlines() if line.startswith("Score:")), "no score line")
            print(f"run {run}: {times[-1]:.1f} s (exit {finished.returncode}; {score})", flush=True)
            outputs.append(out.read_bytes() if out.exists() else None)
        median = statistics.median(times)
        print(f"median: {median:.1f} s (target <= 60 s: {'met' if median <= 60 else 'NOT met'})")
        identical = outputs[0] is not None and all(output == outputs[0] for output in outputs)
        print(f"all {args.runs} results.json identical: {identical}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
