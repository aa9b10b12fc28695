"""How long does grading Part A of one submission take?

Grades a correct Part A (tests/submissions/part_a/reference.py, the notebook's solution cells) 5
times with the real command line, `python -m autograder grade FILE --parts part-a --json OUT` (a
fresh process each time: Python and torch start-up, the worker's start-up and every test_sdpa and
test_mha check), prints each wall time and the median (target: at most 20 s on 2 cores), whether the
five results.json files are byte-identical, and the machine's load average before and after.  Wall
times are only comparable on an otherwise idle machine, so each run's CPU time (user + system, the
grading process and its worker together) is printed too: grading is sequential (the grader waits
for its worker), so on an idle machine the wall time is about the CPU time.  Usage:

    .venv/bin/python benchmarks/part_a_speed.py [--submission FILE] [--runs 5]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBMISSION = ROOT / "tests" / "submissions" / "part_a" / "reference.py"
TARGET = 20.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission", type=Path, default=SUBMISSION)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"submission: {args.submission.relative_to(ROOT) if args.submission.is_relative_to(ROOT) else args.submission}; "
          f"parts: part-a; {os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}", flush=True)
    times, cpu_times, outputs = [], [], []
    with tempfile.TemporaryDirectory(prefix="part-a-speed-") as scratch:
        for run in range(1, args.runs + 1):
            out = Path(scratch) / f"results{run}.json"
            command = [sys.executable, "-m", "autograder", "grade", str(args.submission), "--parts", "part-a",
                       "--json", str(out)]
            cpu_before = _children_cpu()
            started = time.perf_counter()
            finished = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            times.append(time.perf_counter() - started)
            cpu_times.append(_children_cpu() - cpu_before)
            score = next((line for line in finished.stdout.splitlines() if line.startswith("Score:")), "no score line")
            print(f"run {run}: {times[-1]:.1f} s, CPU {cpu_times[-1]:.1f} s (exit {finished.returncode}; {score})",
                  flush=True)
            outputs.append(out.read_bytes() if out.exists() else None)
    median = statistics.median(times)
    print(f"median: {median:.1f} s (target <= {TARGET:g} s: {'met' if median <= TARGET else 'NOT met'}); "
          f"median CPU time {statistics.median(cpu_times):.1f} s")
    identical = outputs[0] is not None and all(output == outputs[0] for output in outputs)
    print(f"all {args.runs} results.json identical: {identical}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
