"""Where to draw the line between "learns" and "does not learn" for Part B's classifier.

Trains the Part B sentiment classifier with the grader's recipe over many seeds for: the provided
buggy layer, the post-LN model answer, a pre-LN fix, and several wrong fixes, through exactly the
check's code path (``fixed_learning.train_in_worker``: the grader's batch order, labels, loss and
gradient in :mod:`autograder.assignment.learning_recipe`; the worker's probes ``start_learning`` and
``learning_step``), with the probes called in-process instead of in a worker, for speed.  The
learning metric is the grader's mean training cross-entropy over the last epoch (nats; chance is
ln 2 = 0.693).  Prints min / median / max per variant, the chosen threshold, the margin between the
closest correct run and the closest run of a variant that must fail, and the cost of one step.

    NLTK_DATA=/work/shared/nltk_data nice .venv/bin/python benchmarks/learning_threshold.py [n_seeds]
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from multiprocessing import Pool
from typing import Any

import torch

from autograder.assignment import course_data
from autograder.checks import fixed_learning  # the check's recipe and training loop
from autograder.probes import PROBES
from autograder.probes import fixed_learning as _probes  # noqa: F401  (registers the learning probes)


class InProcessStudent:
    """A stand-in for the worker: the same probes, called directly; it times every call."""

    def __init__(self, namespace: dict) -> None:
        self.namespace, self.seconds = namespace, []

    def call(self, probe: str, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        started = time.perf_counter()
        reply = PROBES[probe](self.namespace, **kwargs)
        self.seconds.append(time.perf_counter() - started)
        return reply


def load_course_namespace() -> dict:
    """The Part B course cells of the source notebook, our reference attention and both correct fixes."""
    from autograder.assignment import course, reference

    scope = course.namespace(course.PART_B_CELLS)
    scope["FixedTransformerEncoderLayer"] = reference.PostLNEncoderLayer
    scope["PreLNTransformerEncoderLayer"] = reference.PreLNEncoderLayer
    return scope


def wrong_fixes(ns: dict) -> dict[str, type]:
    """Plausible wrong answers, each a subclass of the model answer with another forward."""
    Fixed = ns["FixedTransformerEncoderLayer"]

    class OnlyFfnResidual(Fixed):          # the attention residual is still missing
        def forward(self, x, mask=None):
            attn, weights = self.mha(x, mask)
            x = self.norm1(self.dropout1(attn))
            x = self.norm2(x + self.dropout2(self.ffn(x)))
            return x, weights

    class OnlyAttnResidual(Fixed):         # the feed-forward residual is still missing
        def forward(self, x, mask=None):
            attn, weights = self.mha(x, mask)
            x = self.norm1(x + self.dropout1(attn))
            x = self.norm2(self.dropout2(self.ffn(x)))
            return x, weights

    class NormsMovedNoResidual(Fixed):     # pre-LN placement of the norms, but still no residuals
        def forward(self, x, mask=None):
            attn, weights = self.mha(self.norm1(x), mask)
            x = self.dropout1(attn)
            x = self.dropout2(self.ffn(self.norm2(x)))
            return x, weights

    class ResidualAfterNorm(Fixed):        # x = norm(sublayer(x)) + x
        def forward(self, x, mask=None):
            attn, weights = self.mha(x, mask)
            x = self.norm1(self.dropout1(attn)) + x
            x = self.norm2(self.dropout2(self.ffn(x))) + x
            return x, weights

    class AttentionThrownAway(Fixed):      # x = norm1(x): the attention output is never used
        def forward(self, x, mask=None):
            _, weights = self.mha(x, mask)
            x = self.norm1(x)
            x = self.norm2(x + self.dropout2(self.ffn(x)))
            return x, weights

    class ResidualsNoNorms(Fixed):         # residuals restored, layer norms dropped
        def forward(self, x, mask=None):
            attn, weights = self.mha(x, mask)
            x = x + self.dropout1(attn)
            x = x + self.dropout2(self.ffn(x))
            return x, weights

    return {
        "wrong: only ffn residual": OnlyFfnResidual,
        "wrong: only attn residual": OnlyAttnResidual,
        "wrong: norms moved, no residual": NormsMovedNoResidual,
        "wrong: residual after norm": ResidualAfterNorm,
        "wrong: attention thrown away": AttentionThrownAway,
        "wrong: residuals, no norms": ResidualsNoNorms,
    }


def variants(ns: dict) -> dict[str, type]:
    return {"buggy (provided)": ns["BuggyTransformerEncoderLayer"],
            "fix: post-LN (model answer)": ns["FixedTransformerEncoderLayer"],
            "fix: pre-LN": ns["PreLNTransformerEncoderLayer"],
            **wrong_fixes(ns)}


MUST_LEARN = ("fix: post-LN (model answer)", "fix: pre-LN")
MUST_FAIL = ("buggy (provided)",)

_worker: dict = {}


def _init_worker() -> None:
    torch.set_num_threads(1)
    ns = load_course_namespace()
    _worker.update(ns=ns, variants=variants(ns), data=course_data.review_tensors())


def _run(job: tuple[str, int]) -> tuple[str, int, float, float, list[float]]:
    """(variant, seed, seconds, slowest call's seconds, the grader's per-epoch training loss)."""
    name, seed = job
    student = InProcessStudent(dict(_worker["ns"], FixedTransformerEncoderLayer=_worker["variants"][name]))
    started = time.perf_counter()
    losses = fixed_learning.train_in_worker(student, _worker["data"], seed=seed)
    return name, seed, time.perf_counter() - started, max(student.seconds), losses


def main(n_seeds: int = 20) -> None:
    os.environ.setdefault("NLTK_DATA", "/work/shared/nltk_data")
    torch.set_num_threads(1)
    names = list(variants(load_course_namespace()))
    course_data.review_tensors()  # tokenise once, before the pool forks
    print(f"recipe: data {course_data.DATA}\n        training {fixed_learning.TRAINING}\n"
          f"        model {fixed_learning.MODEL}")
    print(f"metric: the grader's mean training loss over the last epoch (nats; chance ln 2 = {fixed_learning.CHANCE:.3f}), "
          f"through fixed_learning.train_in_worker;\n        seeds 0..{n_seeds - 1}; one thread per run, "
          "2 runs in parallel\n")
    jobs = [(name, seed) for name in names for seed in range(n_seeds)]
    with Pool(2, initializer=_init_worker) as pool:
        results = pool.map(_run, jobs, chunksize=1)

    metric = {name: [losses[-1] for n, _, _, _, losses in results if n == name] for name in names}
    seconds = {name: [s for n, _, s, _, _ in results if n == name] for name in names}
    print(f"{'variant':34s} {'train loss min / median / max':>30s}   s/run")
    for name in names:
        m = metric[name]
        print(f"{name:34s} {min(m):8.3f} {statistics.median(m):8.3f} {max(m):8.3f}     "
              f"{statistics.mean(seconds[name]):5.1f}")

    worst_correct = max(v for name in MUST_LEARN for v in metric[name])
    best_buggy = min(v for name in MUST_FAIL for v in metric[name])
    threshold = round((worst_correct + best_buggy) / 2, 2)
    print(f"\nthreshold: learns if last-epoch training loss < {threshold:.2f} nats "
          f"(the check uses {fixed_learning.THRESHOLD:.2f})")
    print(f"margin: {best_buggy - worst_correct:.3f} nats (highest correct-fix loss {worst_correct:.3f}, "
          f"lowest buggy loss {best_buggy:.3f}); from the check's threshold: "
          f"{fixed_learning.THRESHOLD - worst_correct:.3f} below, {best_buggy - fixed_learning.THRESHOLD:.3f} above")
    ok = all(v < fixed_learning.THRESHOLD for name in MUST_LEARN for v in metric[name]) and \
        all(v >= fixed_learning.THRESHOLD for name in MUST_FAIL for v in metric[name])
    print(f"every correct run below and every buggy run above the check's threshold: {ok}")
    for name in names:
        if name.startswith("wrong"):
            learned = sum(v < fixed_learning.THRESHOLD for v in metric[name])
            verdict = ("learns on every seed" if learned == n_seeds else "never learns" if learned == 0
                       else f"learns on {learned} of {n_seeds} seeds")
            print(f"  {name:34s} {verdict}")
    print("(wrong fixes that learn must be caught by the behaviour check, not by this one)")
    correct = [s for name in MUST_LEARN for s in seconds[name]]
    slowest = max(step for n, _, _, step, _ in results if n in MUST_LEARN)
    print(f"\nseconds per correct-fix run, single-threaded, in-process: mean {statistics.mean(correct):.1f}, "
          f"max {max(correct):.1f}; slowest single call {slowest:.3f} s "
          f"(the check allows {fixed_learning.STEP_SECONDS:g} s a call, {fixed_learning.TRAINING_SECONDS:g} s a run)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
