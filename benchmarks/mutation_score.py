"""How strong are the checks? The kill rate of every single-point mutant of the model solution.

From the model solution's graded cells (``sdpa``, ``mha``, ``attention_hook``, ``fixed_encoder``,
``tokenize_fn``, ``compute_metrics``, read from the source notebook) this makes every single-point
mutant with the standard ``ast`` module (:class:`Mutator`): arithmetic and comparison operators
swapped, numbers changed (``-1e9`` to ``-1e4``, ``-inf`` and ``0``; others by +1, -1, 0 and sign),
``True``/``False`` flipped, ``dim=``/``axis=`` arguments changed, keyword arguments dropped,
positional arguments swapped (``transpose``/``view`` ones included), calls dropped
(``math.sqrt(d)`` -> ``d``, ``x.detach()`` / ``x.cpu()`` -> ``x``, ``self.W_o(c)`` -> ``c``,
``self.norm1(...)``, ``self.dropout1(...)``) and either side of a sum, product or quotient dropped
(residual additions, scalings).

Each mutant is then judged twice, independently:

- **equivalent or not**, by the benchmark's own oracles (``mutation_parta.py``, ``mutation_partb.py``,
  ``mutation_partc.py``, on ``mutation_reference.py``'s float64 attention, written from the notebook's
  text, not the grader's) on their own inputs: for attention every mask shape and dtype the notebook
  names, fully masked queries and sequences, large scores, float32 inputs, inputs left unchanged,
  gradients; for the hook a toy model of its own (what is stored, when, whether the model's outputs
  and gradients change, ``remove()``); for the fixed layer its own post-LN and pre-LN layers (eval
  and train mode with the same dropout draws, the default dropout, padding masks, gradients of the
  input and every parameter); for Part C the tokenizer itself and its own logits without ties;
- **killed or not**, by the engine's checks of the cell's test cells, run in process on the
  notebook's namespace for that part (the part's trusted code, the model cells, the mutant in place
  of its cell; ``autograder.notebook.check_namespace``, the same checks the sandboxed grading runs):
  killed when any check loses a point.  Test cells run in order and stop at the first that kills,
  so the slow learning check (test_fixed_learning) runs only on the layers test_fixed_encoder passes.

It prints, per cell, the kill rate of the non-equivalent mutants, every survivor with its diff (and,
where the benchmark knows one, why it is acceptable), and every equivalent mutant that loses points (a
false rejection; there must be none).  A new cell is one more :class:`Target`.  Usage:

    nice .venv/bin/python benchmarks/mutation_score.py [--jobs 2] [--cells sdpa mha ...] [--limit N]
        [--sample N --seed S] [--check]
"""
from __future__ import annotations

import argparse
import ast
import copy
import difflib
import math
import multiprocessing
import random
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mutation_parta import mha_equivalent, sdpa_equivalent
from mutation_partb import fixed_layer_equivalent, hook_equivalent
from mutation_partc import metrics_equivalent, tokenize_equivalent
from mutation_reference import FILL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


# ------------------------------------------------------------------------------------------------
# Mutants

BINOP_SWAPS: dict[type, tuple[type, ...]] = {
    ast.Add: (ast.Sub, ast.Mult), ast.Sub: (ast.Add,), ast.Mult: (ast.Div, ast.Add), ast.Div: (ast.Mult, ast.FloorDiv),
    ast.FloorDiv: (ast.Div, ast.Mult), ast.MatMult: (ast.Mult,), ast.Pow: (ast.Mult,), ast.Mod: (ast.FloorDiv,)}
DROPPED_SIDES: dict[type, tuple[str, ...]] = {ast.Add: ("left", "right"), ast.Sub: ("left",), ast.Mult: ("left", "right"),
                                              ast.Div: ("left",), ast.FloorDiv: ("left",), ast.MatMult: ("left", "right")}
COMPARE_SWAPS: dict[type, type] = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
                                   ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
DIM_VALUES = (-1, -2, -3, 0, 1, 2)
FUNCTION_OWNERS = ("torch", "F", "math", "nn", "self")   # owner.f(x): a function (or layer) of x, dropped to x


def number(value: float) -> ast.expr:
    if math.isinf(value):
        return ast.parse(f'float("{"-" if value < 0 else ""}inf")', mode="eval").body
    return ast.UnaryOp(ast.USub(), ast.Constant(-value)) if value < 0 else ast.Constant(value)


def numeric(node: ast.AST) -> float | None:
    """The value of a number literal (``1e9``, ``-1``), None for anything else."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = numeric(node.operand)
        return None if inner is None else -inner
    return None


def replacements(node: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    """(description, replacement node) for every single-point mutation at ``node``."""
    if isinstance(node, ast.BinOp):
        for op in BINOP_SWAPS.get(type(node.op), ()):
            yield f"{type(node.op).__name__} -> {op.__name__}", ast.BinOp(node.left, op(), node.right)
        for side in DROPPED_SIDES.get(type(node.op), ()):
            yield f"{type(node.op).__name__}: keep only the {side} side", getattr(node, side)
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARE_SWAPS:
        swapped = COMPARE_SWAPS[type(node.ops[0])]
        yield f"{type(node.ops[0]).__name__} -> {swapped.__name__}", ast.Compare(node.left, [swapped()], node.comparators)
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield f"{node.value} -> {not node.value}", ast.Constant(not node.value)
    elif (value := numeric(node)) is not None:
        changed = (-1e4, -math.inf, 0.0) if value == FILL else (value + 1, value - 1, 0, -value)
        for new in dict.fromkeys(v for v in changed if v != value):
            yield f"{value!r} -> {new!r}", number(new)
    elif isinstance(node, ast.Call):
        func = node.func
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if receiver is not None and not (isinstance(receiver, ast.Name) and receiver.id in FUNCTION_OWNERS):
            yield f"drop the call .{func.attr}(...)", receiver          # x.detach() -> x, t.view(...) -> t
        elif node.args:
            yield f"drop the call {ast.unparse(func)}(...), keep its first argument", node.args[0]
        for i in range(len(node.args) - 1):
            args = list(node.args)
            args[i], args[i + 1] = args[i + 1], args[i]
            yield f"swap arguments {i} and {i + 1} of {ast.unparse(func)}", ast.Call(func, args, node.keywords)
        for k, keyword in enumerate(node.keywords):
            yield f"drop the argument {keyword.arg}= of {ast.unparse(func)}", ast.Call(
                func, node.args, node.keywords[:k] + node.keywords[k + 1:])
            if keyword.arg in ("dim", "axis") and (current := numeric(keyword.value)) is not None:
                for new in DIM_VALUES:
                    if new != current:
                        keywords = list(node.keywords)
                        keywords[k] = ast.keyword(keyword.arg, number(new))
                        yield f"{keyword.arg}={int(current)} -> {new}", ast.Call(func, node.args, keywords)


class Mutator(ast.NodeTransformer):
    """Applies mutation number ``target`` (in walk order) and records what it did; counts the sites."""

    def __init__(self, target: int = -1) -> None:
        self.target, self.seen, self.description = target, 0, ""

    def visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node                                                 # a docstring
        for description, replacement in list(replacements(node)):
            if self.seen == self.target:
                self.description = f"line {getattr(node, 'lineno', '?')}: {description}"
                self.seen += 1
                return ast.copy_location(replacement, node)
            self.seen += 1
        if numeric(node) is not None or (isinstance(node, ast.keyword) and node.arg in ("dim", "axis")):
            return node                     # a number is mutated whole (-1, not its 1); a dim= by its call
        return self.generic_visit(node)


def mutants(source: str) -> Iterator[tuple[str, str]]:
    """(description, mutated source) for every single-point mutant of ``source``."""
    tree = ast.parse(source)
    counter = Mutator()
    counter.visit(copy.deepcopy(tree))
    original = ast.unparse(tree)
    for target in range(counter.seen):
        mutator = Mutator(target)
        mutated = ast.unparse(ast.fix_missing_locations(mutator.visit(copy.deepcopy(tree))))
        if mutated != original:
            yield mutator.description, mutated


@dataclass(frozen=True)
class Target:
    """One graded cell: its oracle, the test cells whose checks grade it (in order: the first one to take a point
    kills the mutant, and the later ones are not run), and what runs around it in the notebook's namespace."""

    cell: str
    equivalent: Callable[[dict[str, Any]], str | None]
    test_cells: tuple[str, ...]
    model_cells: tuple[str, ...]          # the model solution's cells run with it, in notebook order (it among them)
    setup: Callable[[], str] = lambda: ""  # trusted code run after the prelude, as the part's worker runs it
    accepted: tuple[tuple[str, str], ...] = ()  # (a line a survivor adds, why that survivor is acceptable)
    note: str = ""                        # what the oracle cannot see, printed with the cell's figures


def _part_b() -> str:
    from autograder.assignment import course

    return "".join(f"\n{text}\n" for text in course.cells(course.PART_B_CELLS).values()) + course.REFERENCE_ATTENTION


def _part_c() -> str:
    from autograder.assignment import course

    return course.PART_C_SETUP


PART_A, PART_C = ("sdpa", "mha"), ("tokenize_fn", "compute_metrics")
TARGETS = {target.cell: target for target in (
    Target("sdpa", sdpa_equivalent, ("test_sdpa", "test_mha"), PART_A),
    Target("mha", mha_equivalent, ("test_mha",), PART_A),
    Target("attention_hook", hook_equivalent, ("test_attention_hook",), ("attention_hook",), _part_b,
           note="judged on a machine without a GPU, as the grader is: there dropping .cpu() changes nothing"),
    # the learning check (seconds per mutant) runs only on the mutants the behaviour checks leave alive
    Target("fixed_encoder", fixed_layer_equivalent, ("test_fixed_encoder", "test_fixed_learning"), ("fixed_encoder",),
           _part_b, accepted=(("def __init__(self, embed_dim, num_heads, ffn_dim, dropout=",
                               "only the default's value differs, and no code of the notebook uses it: the classifier "
                               "always passes dropout, the visible test builds the layer in eval mode (a wrong default "
                               "changes nothing the notebook runs, so it is not graded)"),)),
    Target("tokenize_fn", tokenize_equivalent, ("test_partc",), PART_C, _part_c),
    Target("compute_metrics", metrics_equivalent, ("test_partc",), PART_C, _part_c))}


# ------------------------------------------------------------------------------------------------
# Running

def namespace_with(cell: str, source: str) -> dict[str, Any]:
    """The notebook's namespace for ``cell``'s part (prelude, the part's trusted code, the model cells) with
    ``source`` in place of ``cell``."""
    from autograder.assignment import course

    target = TARGETS[cell]
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(course.PRELUDE + target.setup(), "<prelude>", "exec"), namespace)
    for grade_id, text in course.cells(target.model_cells).items():
        exec(compile(source if grade_id == cell else text, f"<{grade_id}>", "exec"), namespace)
    return namespace


def judge(job: tuple[str, str, str]) -> dict[str, Any]:
    """Equivalence by the oracle, then the engine's verdict: which checks lose points."""
    cell, description, source = job
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")                  # mutants make torch warn; their verdicts are what counts
    try:
        namespace = namespace_with(cell, source)
    except Exception as exc:                             # noqa: BLE001 - the cell does not even run
        return {"cell": cell, "description": description, "source": source,
                "difference": f"the cell raises {type(exc).__name__}", "failed": ["(the cell does not run)"]}
    difference = TARGETS[cell].equivalent(namespace_with(cell, source))     # a fresh namespace for each judge
    from autograder.notebook import check_namespace

    failed: list[str] = []
    for test_cell in TARGETS[cell].test_cells:
        if not failed:
            failed = [result.name for result in check_namespace(test_cell, namespace).results
                      if result.score < result.max_score]
    return {"cell": cell, "description": description, "source": source, "difference": difference, "failed": failed}


def _diff(original: str, mutated: str) -> list[str]:
    diff = difflib.unified_diff(original.splitlines(), mutated.splitlines(), lineterm="", n=0)
    return [line for line in diff if not line.startswith(("---", "+++", "@@"))]


def report(results: list[dict[str, Any]], originals: dict[str, str], seconds: float) -> None:
    accepted = 0
    for cell in dict.fromkeys(result["cell"] for result in results):
        mine = [r for r in results if r["cell"] == cell]
        different = [r for r in mine if r["difference"]]
        killed = [r for r in different if r["failed"]]
        survivors = [r for r in different if not r["failed"]]
        reasons = {id(r): why for r in survivors for line, why in TARGETS[cell].accepted
                   if any(added.startswith("+") and line in added for added in _diff(originals[cell], r["source"]))}
        rejected = [r for r in mine if not r["difference"] and r["failed"]]
        rate = 100.0 * len(killed) / len(different) if different else 100.0
        print(f"\n== cell {cell}: {len(mine)} mutants, {len(mine) - len(different)} equivalent, "
              f"{len(different)} not; killed {len(killed)} of {len(different)} = {rate:.1f} %; "
              f"equivalent but losing points: {len(rejected)}; survivors accepted with a reason: {len(reasons)}")
        if TARGETS[cell].note:
            print(f"   ({TARGETS[cell].note})")
        for r in mine:
            if not r["difference"]:
                print(f"   equivalent: {r['description']}")
        for title, group in (("SURVIVOR", survivors), ("EQUIVALENT BUT REJECTED", rejected)):
            for r in group:
                print(f"\n-- {title}: {r['description']}" + (f" ({r['difference']})" if r["difference"] else
                                                              f" (fails {', '.join(r['failed'])})"))
                print("\n".join(_diff(originals[cell], r["source"])))
                if id(r) in reasons:
                    print(f"   accepted: {reasons[id(r)]}")
        accepted += len(reasons)
    total = [r for r in results if r["difference"]]
    print(f"\nall cells: {sum(bool(r['failed']) for r in total)} of {len(total)} non-equivalent mutants killed "
          f"({accepted} of the survivors accepted with a reason); {len(results)} mutants judged in {seconds:.0f} s, "
          f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--cells", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--limit", type=int, default=0, help="at most this many mutants per cell (0: all)")
    parser.add_argument("--sample", type=int, default=0,
                        help="a random sample of this many mutants per cell, drawn with --seed (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true", help="only run each oracle on the model solution")
    options = parser.parse_args()
    from autograder.assignment import course

    originals = {cell: ast.unparse(ast.parse(course.cells((cell,))[cell])) for cell in options.cells}
    if options.check:
        for cell in options.cells:
            print(cell, TARGETS[cell].equivalent(namespace_with(cell, originals[cell])) or "equivalent")
        return
    jobs = []
    for cell in options.cells:
        found = list(mutants(course.cells((cell,))[cell]))
        if options.sample and len(found) > options.sample:
            print(f"cell {cell}: a sample of {options.sample} of its {len(found)} mutants (seed {options.seed})")
            found = random.Random(options.seed).sample(found, options.sample)
        jobs += [(cell, description, source) for description, source in found[:options.limit or None]]
    start = time.monotonic()
    context = multiprocessing.get_context("spawn")
    with context.Pool(options.jobs, maxtasksperchild=20) as pool:
        results = []
        for number, result in enumerate(pool.imap(judge, jobs), start=1):
            results.append(result)
            print(f"[{number}/{len(jobs)}] {result['cell']} {result['description']}: "
                  f"{'equivalent' if not result['difference'] else 'not equivalent'}, "
                  f"{'killed by ' + ', '.join(result['failed']) if result['failed'] else 'not killed'}",
                  file=sys.stderr, flush=True)
    report(results, originals, time.monotonic() - start)


if __name__ == "__main__":
    main()
