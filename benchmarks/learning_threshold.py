"""Where to draw the line between "learns" and "does not learn" for Part B's classifier.

Trains the Part B sentiment classifier with the grader's recipe over many seeds for: the provided
buggy layer, the post-LN model answer, a pre-LN fix, and several wrong fixes.  The learning metric
is the mean training loss over the last epoch (cross-entropy in nats; chance is ln 2 = 0.693).
Prints min / median / max per variant, the chosen threshold and the margin between the closest
correct run and the closest run of a variant that must fail.

    NLTK_DATA=/work/shared/nltk_data .venv/bin/python benchmarks/learning_threshold.py [n_seeds]
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from multiprocessing import Pool

import torch

from autograder.checks.fixed_learning import CHANCE, DATA, MODEL, TRAINING  # the grader's recipe


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
    _worker.update(ns=ns, variants=variants(ns), data=ns["load_review_tensors"](**DATA))


def _run(job: tuple[str, int]) -> tuple[str, int, float, dict]:
    name, seed = job
    started = time.perf_counter()
    _, history = _worker["ns"]["train_classifier"](_worker["variants"][name], _worker["data"], seed=seed,
                                                   **TRAINING, **MODEL)
    return name, seed, time.perf_counter() - started, history


def main(n_seeds: int = 12) -> None:
    os.environ.setdefault("NLTK_DATA", "/work/shared/nltk_data")
    torch.set_num_threads(1)
    names = list(variants(load_course_namespace()))
    print(f"recipe: data {DATA}\n        training {TRAINING}\n        model {MODEL}")
    print(f"metric: mean training loss over the last epoch (nats; chance ln 2 = {CHANCE:.3f}); "
          f"seeds 0..{n_seeds - 1}; one thread per run, 2 runs in parallel\n")
    jobs = [(name, seed) for name in names for seed in range(n_seeds)]
    with Pool(2, initializer=_init_worker) as pool:
        results = pool.map(_run, jobs, chunksize=1)

    metric = {name: [h["train_loss"][-1] for n, _, _, h in results if n == name] for name in names}
    heldout = {name: [h["heldout_acc"][-1] for n, _, _, h in results if n == name] for name in names}
    seconds = {name: [s for n, _, s, _ in results if n == name] for name in names}
    print(f"{'variant':34s} {'train loss min / median / max':>30s}   {'held-out acc min / max':>22s}   s/run")
    for name in names:
        m = metric[name]
        print(f"{name:34s} {min(m):8.3f} {statistics.median(m):8.3f} {max(m):8.3f}     "
              f"{min(heldout[name]):8.3f} {max(heldout[name]):8.3f}   {statistics.mean(seconds[name]):5.1f}")

    worst_correct = max(v for name in MUST_LEARN for v in metric[name])
    best_buggy = min(v for name in MUST_FAIL for v in metric[name])
    threshold = round((worst_correct + best_buggy) / 2, 2)
    margin = best_buggy - worst_correct
    print(f"\nthreshold: learns if last-epoch training loss < {threshold:.2f} nats")
    print(f"margin: {margin:.3f} nats (highest correct-fix loss {worst_correct:.3f}, "
          f"lowest buggy loss {best_buggy:.3f})")
    ok = all(v < threshold for name in MUST_LEARN for v in metric[name]) and \
        all(v >= threshold for name in MUST_FAIL for v in metric[name])
    print(f"every correct run below and every buggy run above the threshold: {ok}")
    for name in names:
        if name.startswith("wrong"):
            learned = sum(v < threshold for v in metric[name])
            verdict = ("learns on every seed" if learned == n_seeds else "never learns" if learned == 0
                       else f"learns on {learned} of {n_seeds} seeds")
            print(f"  {name:34s} {verdict}")
    print("(wrong fixes that learn must be caught by the behaviour check, not by this one)")
    print(f"\nseconds per run, single-threaded: mean {statistics.mean(s for v in seconds.values() for s in v):.1f}, "
          f"max {max(s for v in seconds.values() for s in v):.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 12)
