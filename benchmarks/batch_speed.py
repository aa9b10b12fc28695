"""How much faster is `grade-all --jobs 2` than `--jobs 1`?  (target: at least 1.6x on 2 cores)

Builds a batch of N submissions (default 20) that differ only in content that does not matter
(so every one really is graded; none is skipped as already graded), then grades the batch
twice with the real command line, each time into a fresh output folder, in a fresh process
(so that the second run does not reuse the first one's preloaded forkserver):

    python -m autograder grade-all BATCH --out OUT --jobs 1
    python -m autograder grade-all BATCH --out OUT --jobs 2

The submissions are copies of the first sample notebook
(samples/submitted/*/transformer/transformer.ipynb, all automatic parts) when there is one,
otherwise of a correct Part A script graded with --parts part-a.  Usage:

    .venv/bin/python benchmarks/batch_speed.py [--count 20] [--repeat 1] [--source FILE] [--parts ...] [--dask]

With --dask the same batch goes to a Dask cluster on this machine instead, started with the
command lines a course uses on its machines (`dask scheduler`, then 1, later 2 x
`dask worker --nthreads 1`) and graded with `grade-all --scheduler ADDRESS`:

    .venv/bin/python benchmarks/batch_speed.py --dask --count 4

The machine's load average is printed before each run: on a shared machine other work skews
the ratio; --repeat N alternates the two settings N times and compares the medians.
"""
from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PART_A_SCRIPT = '''\
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim)
        self.W_k = nn.Linear(embed_dim, embed_dim)
        self.W_v = nn.Linear(embed_dim, embed_dim)
        self.W_o = nn.Linear(embed_dim, embed_dim)

    def forward(self, x, mask=None):
        batch, length, _ = x.shape
        Q, K, V = (layer(x).view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)
                   for layer in (self.W_q, self.W_k, self.W_v))
        context, weights = scaled_dot_product_attention(Q, K, V, mask)
        return self.W_o(context.transpose(1, 2).reshape(batch, length, self.embed_dim)), weights
'''


def sample_notebook() -> Path | None:
    samples = sorted(ROOT.glob("samples/submitted/*/transformer/transformer.ipynb"))
    return samples[0] if samples else None


def make_batch(folder: Path, source: Path | None, count: int) -> str:
    """``count`` copies with distinct digests: a notebook gets a metadata mark, a script a trailing comment."""
    folder.mkdir(parents=True)
    for index in range(count):
        student = f"student{index:03d}"
        if source is None:
            (folder / f"{student}.py").write_text(PART_A_SCRIPT + f"# copy {index}\n")
        elif source.suffix == ".ipynb":
            notebook = json.loads(source.read_text())
            notebook.setdefault("metadata", {})["batch_copy"] = index
            (folder / f"{student}.ipynb").write_text(json.dumps(notebook, indent=1))
        else:
            (folder / f"{student}{source.suffix}").write_text(source.read_text() + f"\n# copy {index}\n")
    if source is None:
        return "a correct Part A script"
    return str(source.relative_to(ROOT) if source.is_relative_to(ROOT) else source)


def grade(batch: Path, out: Path, label: str, how: list[str], parts: list[str] | None) -> float:
    """One run of the real command line; ``how`` is ``--jobs N`` or ``--scheduler ADDRESS``."""
    command = [sys.executable, "-m", "autograder", "grade-all", str(batch), "--out", str(out), *how, "-q"]
    if parts:
        command += ["--parts", *parts]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    last = finished.stdout.strip().splitlines()[-1] if finished.stdout.strip() else ""
    last = last.split("; results in")[0]
    print(f"{label}: {seconds:.1f} s wall (load average before: {load:.2f}; exit {finished.returncode}; {last})",
          flush=True)
    return seconds


@contextlib.contextmanager
def dask_cluster(root: Path, workers: int) -> Iterator[str]:
    """``dask scheduler`` and ``workers`` x ``dask worker --nthreads 1`` on localhost, as a course starts them."""
    from distributed import Client

    dask = str(Path(sys.executable).with_name("dask"))
    root.mkdir(parents=True)
    scheduler_file = root / "scheduler.json"
    commands = [[dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                 "--scheduler-file", str(scheduler_file)]]
    commands += [[dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--nworkers", "1",
                  "--host", "127.0.0.1", "--no-dashboard", "--local-directory", str(root)]] * workers
    processes: list[subprocess.Popen] = []
    try:
        for command in commands:
            processes.append(subprocess.Popen(command, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True))
            while len(processes) == 1 and not scheduler_file.exists():
                time.sleep(0.2)
        address = json.loads(scheduler_file.read_text())["address"]
        with Client(address, timeout=120) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGTERM)  # each in its own session: the worker's grading processes too
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="alternate the two settings this many times")
    parser.add_argument("--source", type=Path, help="submission to copy (default: first sample notebook)")
    parser.add_argument("--dask", action="store_true",
                        help="grade on a local Dask cluster of 1, then 2 workers (dask scheduler / dask worker)")
    parser.add_argument("--parts", nargs="+", help="parts to grade (default: all, or part-a for the built-in script)")
    args = parser.parse_args()
    source = args.source or sample_notebook()
    parts = args.parts or (["part-a"] if source is None else None)
    with tempfile.TemporaryDirectory(prefix="batch-speed-") as scratch:
        batch = Path(scratch) / "submitted"
        what = make_batch(batch, source, args.count)
        print(f"{args.count} submissions, copies of {what}; parts: {', '.join(parts) if parts else 'all'}", flush=True)
        settings = (1, 2)
        times: dict[int, list[float]] = {jobs: [] for jobs in settings}
        what = "Dask workers" if args.dask else "--jobs"
        for round_ in range(args.repeat):
            for jobs in (settings if round_ % 2 == 0 else settings[::-1]):
                out = Path(scratch) / f"run{jobs}"
                if out.exists():
                    shutil.rmtree(out)  # a fresh folder each time: nothing is skipped as already graded
                if args.dask:
                    cluster = Path(scratch) / f"cluster{jobs}-{round_}"
                    with dask_cluster(cluster, jobs) as address:
                        times[jobs].append(grade(batch, out, f"{jobs} Dask worker(s)", ["--scheduler", address], parts))
                else:
                    times[jobs].append(grade(batch, out, f"--jobs {jobs}", ["--jobs", str(jobs)], parts))
        serial, parallel = statistics.median(times[1]), statistics.median(times[2])
        files = sorted(p.relative_to(Path(scratch) / "run1") for p in (Path(scratch) / "run1").rglob("*") if p.is_file())
        _, mismatch, errors = filecmp.cmpfiles(Path(scratch) / "run1", Path(scratch) / "run2", files, shallow=False)
        label = "median " if args.repeat > 1 else ""
        print(f"{label}{what} 1: {serial:.1f} s, {label}{what} 2: {parallel:.1f} s")
        print(f"speed-up {what} 2 vs 1: {serial / parallel:.2f}x (target >= 1.6x: "
              f"{'met' if serial / parallel >= 1.6 else 'NOT met'})")
        print(f"per submission: {serial / args.count:.1f} s on one {'worker' if args.dask else 'process'}, "
              f"{parallel / args.count:.1f} s on two")
        print(f"outputs of both runs identical: {not mismatch and not errors} ({len(files)} files compared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
