"""How long does grading one submission take, and is it the same every time?

Grades one submission 5 times with the real command line, `python -m autograder grade FILE
[--parts ...] --json OUT` (a fresh process each time, as a TA runs it: Python and torch start-up,
the workers' start-up and every check of the parts), for three settings:

- Part A (`--parts part-a`), target at most 20 s median on 2 cores;
- Part B (`--parts part-b-hook part-b-fix`: the hook, the fixed layer's behaviour and its
  training check), target at most 15 s;
- all automatic parts, target at most 60 s.

Prints each run's wall and CPU time (the grading process and its workers together; grading is
sequential, so on an idle machine the wall time is about the CPU time), the medians, whether the
five results.json files are byte-identical, and the load average (timings on a shared machine are
noisy).  The submission is the first sample notebook.  Usage:

    .venv/bin/python benchmarks/grading_speed.py [--submission FILE] [--runs 5] [--only part-a|part-b|all]
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
SETTINGS = {  # name: (parts, target seconds)
    "part-a": (["part-a"], 20.0),
    "part-b": (["part-b-hook", "part-b-fix"], 15.0),
    "all": ([], 60.0),
}


def sample_notebook() -> Path:
    return sorted((ROOT / "samples" / "submitted").glob("*/transformer/transformer.ipynb"))[0]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(submission: Path, name: str, runs: int) -> None:
    parts, target = SETTINGS[name]
    print(f"== {name} ({', '.join(parts) or 'all automatic parts'}); load average {os.getloadavg()[0]:.1f}",
          flush=True)
    times, cpu_times, outputs = [], [], []
    with tempfile.TemporaryDirectory(prefix="grading-speed-") as scratch:
        for run in range(1, runs + 1):
            out = Path(scratch) / f"results{run}.json"
            command = [sys.executable, "-m", "autograder", "grade", str(submission), "--json", str(out)]
            if parts:
                command += ["--parts", *parts]
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
    identical = outputs[0] is not None and all(output == outputs[0] for output in outputs)
    print(f"median: {median:.1f} s (target <= {target:g} s: {'met' if median <= target else 'NOT met'}); "
          f"median CPU time {statistics.median(cpu_times):.1f} s; all {runs} results.json identical: {identical}; "
          f"load average after {os.getloadavg()[0]:.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submission", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=list(SETTINGS))
    args = parser.parse_args()
    submission = (args.submission or sample_notebook()).resolve()
    shown = submission.relative_to(ROOT) if submission.is_relative_to(ROOT) else submission
    print(f"submission: {shown}; {os.cpu_count()} CPUs", flush=True)
    for name in [args.only] if args.only else list(SETTINGS):
        measure(submission, name, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
