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

    .venv/bin/python benchmarks/batch_speed.py [--count 20] [--repeat 1] [--source FILE] [--parts ...]

The machine's load average is printed before each run: on a shared machine other work skews
the ratio; --repeat N alternates the two settings N times and compares the medians.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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


def grade(batch: Path, out: Path, jobs: int, parts: list[str] | None) -> float:
    command = [sys.executable, "-m", "autograder", "grade-all", str(batch), "--out", str(out), "--jobs", str(jobs), "-q"]
    if parts:
        command += ["--parts", *parts]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    finished = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    last = finished.stdout.strip().splitlines()[-1] if finished.stdout.strip() else ""
    last = last.split("; results in")[0]
    print(f"--jobs {jobs}: {seconds:.1f} s wall (load average before: {load:.2f}; exit {finished.returncode}; {last})",
          flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="alternate the two settings this many times")
    parser.add_argument("--source", type=Path, help="submission to copy (default: first sample notebook)")
    parser.add_argument("--parts", nargs="+", help="parts to grade (default: all, or part-a for the built-in script)")
    args = parser.parse_args()
    source = args.source or sample_notebook()
    parts = args.parts or (["part-a"] if source is None else None)
    with tempfile.TemporaryDirectory(prefix="batch-speed-") as scratch:
        batch = Path(scratch) / "submitted"
        what = make_batch(batch, source, args.count)
        print(f"{args.count} submissions, copies of {what}; parts: {', '.join(parts) if parts else 'all'}", flush=True)
        times: dict[int, list[float]] = {1: [], 2: []}
        for round_ in range(args.repeat):
            for jobs in ((1, 2) if round_ % 2 == 0 else (2, 1)):
                out = Path(scratch) / f"jobs{jobs}"
                if out.exists():
                    shutil.rmtree(out)  # a fresh folder each time: nothing is skipped as already graded
                times[jobs].append(grade(batch, out, jobs, parts))
        serial, parallel = statistics.median(times[1]), statistics.median(times[2])
        files = sorted(p.relative_to(Path(scratch) / "jobs1") for p in (Path(scratch) / "jobs1").rglob("*") if p.is_file())
        _, mismatch, errors = filecmp.cmpfiles(Path(scratch) / "jobs1", Path(scratch) / "jobs2", files, shallow=False)
        label = "median " if args.repeat > 1 else ""
        print(f"{label}--jobs 1: {serial:.1f} s, {label}--jobs 2: {parallel:.1f} s")
        print(f"speed-up --jobs 2 vs --jobs 1: {serial / parallel:.2f}x (target >= 1.6x: "
              f"{'met' if serial / parallel >= 1.6 else 'NOT met'})")
        print(f"outputs of both runs identical: {not mismatch and not errors} ({len(files)} files compared)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
