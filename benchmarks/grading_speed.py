"""How close is the cost of grading to the bare work a grade needs?  Ratios measured in one run.

The **bare work** (issue 16) is one fresh Python process that imports torch, trains the learning
check's recipe once with the model layer (the grader's half, ``learning_recipe.train``, driving the
worker's probes called in-process), loads the Part C tokenizer and runs 400 small attention calls
(the reference's scaled dot-product attention and multi-head attention, 200 each).  Against it, in
the same run, alternating, ``--runs`` times (default 3):

- ``python -m autograder grade NOTEBOOK --json OUT`` of a correct sample notebook, all parts
  (goal: at most 1.25x the bare work; its peak resident memory, the largest of any of its
  processes, at most 1 GB; every results.json byte-identical);
- ``nbgrader autograde transformer --student alice --force`` of the same notebook in a throwaway
  copy of the course (goal: at most 1.5x), and ``nbgrader autograde transformer --force`` of a class of
  ``--batch`` copies of it, per notebook (what a class run costs each notebook: nbgrader's start and
  its server's imports are paid once per run);
- ``grade-all --jobs 1`` and ``--jobs 2`` of ``--batch`` copies of it (goal: a speed-up of at least
  1.9x on 2 cores, outputs identical).

Prints each measure, the load average before it (timings on a shared machine are noisy), the
medians and each ratio of medians.  Usage:

    .venv/bin/python benchmarks/grading_speed.py [--runs 3] [--batch 4] [--skip nbgrader batch]
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
GOALS = {"CLI / bare": ("<=", 1.25), "nbgrader / bare": ("<=", 1.5), "jobs 2 speed-up": (">=", 1.9)}
MEMORY_GOAL = 2**30


def sample_notebook() -> Path:
    return sorted((ROOT / "samples" / "submitted").glob("*/transformer/transformer.ipynb"))[0]


def bare_work(data_file: str) -> None:
    """The work a full grade cannot avoid, in this (fresh) process; ``data_file`` holds the review tensors."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from autograder.assignment import course, learning_recipe, reference
    from autograder.assignment.learning_recipe import MODEL, SEED, TRAINING
    from autograder.assignment.offline_model import offline_tokenizer
    from autograder.probes import PROBES, load_for

    load_for(["test_fixed_learning"])
    with np.load(data_file, allow_pickle=False) as stored:
        data = {key: stored[key] for key in stored.files}
    namespace = dict(course.namespace(course.PART_B_CELLS), FixedTransformerEncoderLayer=reference.PostLNEncoderLayer)
    PROBES["start_learning"](namespace, vocab_size=int(data["vocab_size"]), seed=SEED, lr=TRAINING["lr"], model=MODEL)
    losses = learning_recipe.train(lambda tokens, grad: PROBES["learning_step"](namespace, tokens=tokens, grad=grad),
                                   data["train_x"], data["train_y"], seed=SEED, epochs=TRAINING["epochs"],
                                   batch_size=TRAINING["batch_size"])
    offline_tokenizer()
    generator = torch.Generator().manual_seed(0)
    mha = reference.MultiHeadAttention(16, 4).double()
    for _ in range(200):
        q, k, v = (torch.randn(2, 4, 6, 4, generator=generator, dtype=torch.float64) for _ in range(3))
        reference.scaled_dot_product_attention(q, k, v)
        mha(torch.randn(2, 6, 16, generator=generator, dtype=torch.float64))
    print(f"last epoch's loss {losses[-1]:.3f}")


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """(wall seconds, peak resident bytes of any one of its processes, output) of one command."""
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        print(f"  {' '.join(command[1:4])}... exited {process.returncode}:\n{output[-3000:]}", flush=True)
    return seconds, usage.ru_maxrss * 1024, f"load average before {load:.2f}"


def make_course(folder: Path, notebook: Path, students: int) -> Path:
    """A throwaway copy of the course (source notebook, nbgrader_config.py), released, with alice's submission
    and ``students - 1`` more copies of it (distinct digests)."""
    (folder / "source" / "transformer").mkdir(parents=True)
    shutil.copy(ROOT / "source" / "transformer" / "transformer.ipynb", folder / "source" / "transformer")
    shutil.copy(ROOT / "nbgrader_config.py", folder)
    nbgrader(folder, "generate_assignment", "transformer", "--force")
    (folder / "submitted" / "alice" / "transformer").mkdir(parents=True)
    shutil.copy(notebook, folder / "submitted" / "alice" / "transformer" / "transformer.ipynb")
    for index in range(1, students):
        (folder / "submitted" / f"student{index:03d}" / "transformer").mkdir(parents=True)
        (folder / "submitted" / f"student{index:03d}" / "transformer" / "transformer.ipynb").write_text(
            marked_copy(notebook, index))
    return folder


def nbgrader_env() -> dict[str, str]:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("NBGRADER_EXECUTION", None)
    return env


def nbgrader(course: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=nbgrader_env(), check=True,
                   capture_output=True)


def marked_copy(notebook: Path, index: int) -> str:
    """The notebook with a metadata mark, so that each copy has its own digest and is graded."""
    content = json.loads(notebook.read_text())
    content.setdefault("metadata", {})["batch_copy"] = index
    return json.dumps(content, indent=1)


def make_batch(folder: Path, notebook: Path, count: int) -> None:
    """``count`` copies with distinct digests, so that every one is graded."""
    folder.mkdir(parents=True)
    for index in range(count):
        (folder / f"student{index:03d}.ipynb").write_text(marked_copy(notebook, index))


def same_outputs(first: Path, second: Path) -> bool:
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(first, second, files, shallow=False)
    return bool(files) and not mismatch and not errors


def verdict(name: str, value: float) -> str:
    sign, goal = GOALS[name]
    met = value <= goal if sign == "<=" else value >= goal
    return f"{name}: {value:.2f}x (goal {sign} {goal:g}x: {'met' if met else 'NOT met'})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bare", metavar="DATA", help=argparse.SUPPRESS)  # the bare work itself, in a child
    parser.add_argument("--submission", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4, help="submissions in the grade-all batch")
    parser.add_argument("--skip", nargs="*", default=[], choices=["nbgrader", "batch"])
    args = parser.parse_args()
    if args.bare:
        bare_work(args.bare)
        return 0
    import numpy as np

    from autograder.assignment.course_data import review_tensors

    notebook = (args.submission or sample_notebook()).resolve()
    shown = notebook.relative_to(ROOT) if notebook.is_relative_to(ROOT) else notebook
    print(f"submission: {shown}; {os.cpu_count()} CPUs; {args.runs} runs of each, alternating", flush=True)
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="grading-speed-") as scratch:
        work = Path(scratch)
        data_file = work / "reviews.npz"
        np.savez(data_file, **review_tensors())  # what the grader reads from its cache, ready for the bare work
        course = None if "nbgrader" in args.skip else make_course(work / "course", notebook, args.batch)
        if "batch" not in args.skip:
            make_batch(work / "batch", notebook, args.batch)
        results, peaks, identical_batches = [], [], []

        def measure(name: str, command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None,
                    per: int = 1) -> int:
            seconds, peak, note = timed(command, cwd, env)
            times.setdefault(name, []).append(seconds / per)
            shown = f"{seconds:.1f} s" if per == 1 else f"{seconds / per:.1f} s ({seconds:.1f} s for {per})"
            print(f"  {name}: {shown} ({note}; peak RSS {peak / 2**30:.2f} GB)", flush=True)
            return peak

        for run in range(1, args.runs + 1):
            print(f"run {run}", flush=True)
            measure("bare work", [sys.executable, __file__, "--bare", str(data_file)])
            out = work / f"results{run}.json"
            peaks.append(measure("CLI", [sys.executable, "-m", "autograder", "grade", str(notebook), "--json", str(out)]))
            results.append(out.read_bytes() if out.exists() else None)
            if course is not None:
                measure("nbgrader", [sys.executable, "-m", "nbgrader", "autograde", "transformer", "--student", "alice",
                                     "--force"], course, nbgrader_env())
                measure("nbgrader class run, per notebook", [sys.executable, "-m", "nbgrader", "autograde", "transformer",
                                                             "--force"], course, nbgrader_env(), per=args.batch)
            if "batch" not in args.skip:
                outs = {}
                for jobs in ((1, 2) if run % 2 else (2, 1)):
                    outs[jobs] = work / f"batch-out{run}-{jobs}"
                    measure(f"grade-all --jobs {jobs}", [sys.executable, "-m", "autograder", "grade-all",
                                                         str(work / "batch"), "--out", str(outs[jobs]), "--jobs",
                                                         str(jobs), "-q"])
                identical_batches.append(same_outputs(outs[1], outs[2]))
    medians = {name: statistics.median(values) for name, values in times.items()}
    print("medians: " + "; ".join(f"{name} {value:.1f} s" for name, value in medians.items()))
    print(verdict("CLI / bare", medians["CLI"] / medians["bare work"]))
    if "nbgrader" in medians:
        print(verdict("nbgrader / bare", medians["nbgrader"] / medians["bare work"]) + " (one notebook, a run of its own)")
        print(verdict("nbgrader / bare", medians["nbgrader class run, per notebook"] / medians["bare work"]) +
              f" (per notebook of a class run of {args.batch})")
    if "grade-all --jobs 1" in medians:
        print(verdict("jobs 2 speed-up", medians["grade-all --jobs 1"] / medians["grade-all --jobs 2"]) +
              f"; --jobs 1 and --jobs 2 outputs identical in every run: {all(identical_batches)}")
    print(f"peak memory of one grading (largest process): {max(peaks) / 2**30:.2f} GB "
          f"(goal <= 1 GB: {'met' if max(peaks) <= MEMORY_GOAL else 'NOT met'})")
    print(f"all {len(results)} results.json identical: {results[0] is not None and len(set(results)) == 1}; "
          f"load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
