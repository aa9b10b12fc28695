"""How strong are Part A's checks? The kill rate of every single-point mutant of the model solution.

From the model solution's graded cells (``sdpa``, ``mha``, read from the source notebook) this
makes every single-point mutant with the standard ``ast`` module (:class:`Mutator`): arithmetic
and comparison operators swapped, numbers changed (``-1e9`` to ``-1e4``, ``-inf`` and ``0``),
``dim=`` arguments changed, positional arguments swapped (``transpose``/``view`` ones
included), calls dropped (``math.sqrt(d)`` -> ``d``, ``x.detach()`` / ``x.contiguous()`` -> ``x``,
``self.W_o(c)`` -> ``c``) and either side of a sum, product or quotient dropped (residual
additions, scalings).

Each mutant is then judged twice, independently:

- **equivalent or not**, by this file's own float64 reference (:func:`reference_attention`,
  :func:`reference_module`, written from the notebook's text, not the grader's) on its own random
  inputs: every mask shape and dtype the notebook names, a query or a sequence with every key
  masked, scores up to about 1e5, float32 inputs (the dtype must be kept), the inputs left
  unchanged, and the gradients of the output (what training needs; the notebook asks for the
  weights' values only);
- **killed or not**, by the engine's checks of test_sdpa and test_mha, run in process on the
  notebook's namespace with the mutant in place of its cell (``autograder.notebook.check_namespace``,
  the same checks the sandboxed grading runs): killed when any check loses a point.

It prints, per cell, the kill rate of the non-equivalent mutants, every survivor with its diff,
and every equivalent mutant that loses points (a false rejection; there must be none).  A new
cell is one more :class:`Target` (its cell, its definitions, its oracle).  Usage:

    nice .venv/bin/python benchmarks/mutation_score.py [--jobs 1] [--cells sdpa mha] [--limit N]
"""
from __future__ import annotations

import argparse
import ast
import copy
import difflib
import math
import multiprocessing
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FILL = -1e9                   # the notebook: masked positions "get the score -1e9"
TEST_CELLS = ("test_sdpa", "test_mha")
LAYERS = ("W_q", "W_k", "W_v", "W_o")

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
    elif (value := numeric(node)) is not None and not isinstance(node.value if isinstance(node, ast.Constant)
                                                                   else None, bool):
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


# ------------------------------------------------------------------------------------------------
# The benchmark's own float64 reference, from the notebook's text

def reference_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                        mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    scores = (Q @ K.transpose(-2, -1)) / math.sqrt(Q.shape[-1])
    if mask is not None:
        scores = torch.where(mask == 0, torch.full_like(scores, FILL), scores)
    weights = torch.softmax(scores, dim=-1)
    return weights @ V, weights


def reference_module(params: dict[str, torch.Tensor], x: torch.Tensor, heads: int,
                     mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    b, n, e = x.shape

    def project(name: str, t: torch.Tensor) -> torch.Tensor:
        return t @ params[f"{name}.weight"].T + params[f"{name}.bias"]

    Q, K, V = (project(name, x).reshape(b, n, heads, e // heads).permute(0, 2, 1, 3) for name in LAYERS[:3])
    context, weights = reference_attention(Q, K, V, mask)
    return project("W_o", context.permute(0, 2, 1, 3).reshape(b, n, e)), weights


def masks(generator: torch.Generator, batch: int, heads: int, q: int, k: int) -> Iterator[torch.Tensor | None]:
    """No mask, then every shape and dtype the notebook names, then one with a query (a sequence) fully masked."""
    yield None
    padding = torch.rand(batch, 1, 1, k, generator=generator) < 0.7
    padding[..., 0] = True
    yield padding
    causal = torch.ones(q, k).tril(diagonal=max(k - q, 0))
    yield causal.long()
    yield causal[None, None].float()
    yield (torch.rand(batch, heads, q, k, generator=generator) < 0.6).int()
    dead = padding.clone()
    dead[0] = False
    yield dead


def differ(got: Any, expected: torch.Tensor, rtol: float) -> bool:
    """Whether ``got`` is not ``expected``: another type, shape or dtype, or values out of ``rtol`` (scaled)."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape or got.dtype != expected.dtype:
        return True
    expected = expected.detach()
    scale = max(1.0, float(expected.abs().max())) if expected.numel() else 1.0
    return not torch.allclose(got.detach(), expected, rtol=rtol, atol=rtol * scale)


def sdpa_equivalent(namespace: dict[str, Any]) -> str | None:
    """None if the namespace's scaled_dot_product_attention behaves as the notebook says; else the first difference."""
    function = namespace["scaled_dot_product_attention"]
    generator = torch.Generator().manual_seed(0)
    for batch, heads, q, k, d in ((2, 3, 4, 5, 8), (1, 2, 3, 3, 4), (2, 1, 1, 4, 16), (1, 1, 5, 2, 1)):
        for mask in masks(generator, batch, heads, q, k):
            for scale in (1.0, 30.0, 300.0):
                for dtype, rtol in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
                    Q, K, V = (torch.randn(batch, heads, n, d, generator=generator, dtype=torch.float64) * s
                               for n, s in ((q, scale), (k, scale), (k, 1.0)))
                    Q, K, V = (t.to(dtype).requires_grad_() for t in (Q, K, V))
                    inputs = [t.detach().clone() for t in (Q, K, V)]
                    out, weights = reference_attention(*(t.double() for t in (Q, K, V)), mask)
                    try:
                        got = function(*(t.clone() for t in (Q, K, V)), None if mask is None else mask.clone())
                        got_out, got_weights = got
                        where = f"shape {(batch, heads, q, k, d)}, mask {None if mask is None else tuple(mask.shape)}"
                        if differ(got_weights, weights.to(dtype), rtol) or differ(got_out, out.to(dtype), rtol):
                            return f"values differ ({where}, scale {scale}, {dtype})"
                        upstream = torch.randn(out.shape, generator=generator, dtype=torch.float64)
                        expected = torch.autograd.grad((out * upstream).sum(), (Q, K, V), allow_unused=True)
                        grads = torch.autograd.grad((got_out * upstream.to(dtype)).sum(), (Q, K, V), allow_unused=True)
                    except Exception as exc:             # noqa: BLE001 - a mutant may break in any way
                        return f"raises {type(exc).__name__}: {exc}"[:200]
                    for name, g, e in zip("QKV", grads, expected):
                        if g is None or differ(g, e.to(dtype), rtol * 10):
                            return f"gradient with respect to {name} differs ({where}, scale {scale}, {dtype})"
                    if any(not torch.equal(t.detach(), before) for t, before in zip((Q, K, V), inputs)):
                        return "changes an input in place"
    return None


def mha_equivalent(namespace: dict[str, Any]) -> str | None:
    """None if the namespace's MultiHeadAttention behaves as the notebook says; else the first difference."""
    generator = torch.Generator().manual_seed(1)
    for embed, heads, sizes in ((8, 2, ((2, 5), (1, 3))), (6, 3, ((1, 3), (3, 1))), (4, 1, ((3, 4),)),
                                (4, 4, ((2, 1), (2, 6)))):
        try:
            module = namespace["MultiHeadAttention"](embed, heads)
            layers = [getattr(module, name) for name in LAYERS]
        except Exception as exc:                         # noqa: BLE001
            return f"cannot be built: {type(exc).__name__}: {exc}"[:200]
        if not all(isinstance(layer, torch.nn.Linear) and layer.bias is not None for layer in layers):
            return "W_q, W_k, W_v, W_o are not nn.Linear layers with a bias"
        for dtype, rtol in ((torch.float64, 1e-9), (torch.float32, 1e-4)):
            params = {}
            for name in LAYERS:
                params[f"{name}.weight"] = torch.randn(embed, embed, generator=generator, dtype=torch.float64) / embed**0.5
                params[f"{name}.bias"] = 0.5 * torch.randn(embed, generator=generator, dtype=torch.float64)
            module = module.to(dtype).eval()
            module.load_state_dict({key: value.to(dtype) for key, value in params.items()}, strict=False)
            for batch, length in sizes:
                for mask in masks(generator, batch, heads, length, length):
                    if mask is not None and mask.dim() == 4 and mask.shape[1] == heads and heads > 1:
                        continue                       # a per-head mask: the notebook does not give the module one
                    x = torch.randn(batch, length, embed, generator=generator, dtype=torch.float64)
                    context, weights = reference_module(params, x, heads, mask)
                    leaf = x.to(dtype).requires_grad_()
                    before = leaf.detach().clone()
                    try:
                        got_context, got_weights = module(leaf, None if mask is None else mask.clone())
                        where = f"embed {embed}, heads {heads}, x {(batch, length)}, mask {mask is not None}"
                        if differ(got_weights, weights.to(dtype), rtol) or differ(got_context, context.to(dtype), rtol):
                            return f"values differ ({where}, {dtype})"
                        upstream = torch.randn(context.shape, generator=generator, dtype=torch.float64)
                        got_grad = torch.autograd.grad((got_context * upstream.to(dtype)).sum(), leaf)[0]
                    except Exception as exc:             # noqa: BLE001
                        return f"raises {type(exc).__name__}: {exc}"[:200]
                    x.requires_grad_()
                    expected = torch.autograd.grad((reference_module(params, x, heads, mask)[0] * upstream).sum(), x)[0]
                    if differ(got_grad, expected.to(dtype), rtol * 10):
                        return f"gradient with respect to x differs ({where}, {dtype})"
                    if not torch.equal(leaf.detach(), before):
                        return "changes x in place"
    return None


@dataclass(frozen=True)
class Target:
    """One graded cell: its grade_id and the oracle that says whether a namespace behaves as the notebook says."""

    cell: str
    equivalent: Callable[[dict[str, Any]], str | None]


TARGETS = {"sdpa": Target("sdpa", sdpa_equivalent), "mha": Target("mha", mha_equivalent)}


# ------------------------------------------------------------------------------------------------
# Running

def namespace_with(cell: str, source: str) -> dict[str, Any]:
    """The notebook's namespace for Part A (course prelude, the model cells) with ``source`` in place of ``cell``."""
    from autograder.assignment import course

    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(course.PRELUDE, "<prelude>", "exec"), namespace)
    for grade_id, text in course.cells(tuple(TARGETS)).items():
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

    failed = [result.name for test_cell in TEST_CELLS for result in check_namespace(test_cell, namespace).results
              if result.score < result.max_score]
    return {"cell": cell, "description": description, "source": source, "difference": difference, "failed": failed}


def report(results: list[dict[str, Any]], originals: dict[str, str], seconds: float) -> None:
    for cell in dict.fromkeys(result["cell"] for result in results):
        mine = [r for r in results if r["cell"] == cell]
        different = [r for r in mine if r["difference"]]
        killed = [r for r in different if r["failed"]]
        survivors = [r for r in different if not r["failed"]]
        rejected = [r for r in mine if not r["difference"] and r["failed"]]
        rate = 100.0 * len(killed) / len(different) if different else 100.0
        print(f"\n== cell {cell}: {len(mine)} mutants, {len(mine) - len(different)} equivalent, "
              f"{len(different)} not; killed {len(killed)} of {len(different)} = {rate:.1f} %; "
              f"equivalent but losing points: {len(rejected)}")
        for title, group in (("SURVIVOR", survivors), ("EQUIVALENT BUT REJECTED", rejected)):
            for r in group:
                print(f"\n-- {title}: {r['description']}" + (f" ({r['difference']})" if r["difference"] else
                                                              f" (fails {', '.join(r['failed'])})"))
                diff = difflib.unified_diff(originals[cell].splitlines(), r["source"].splitlines(), lineterm="", n=0)
                print("\n".join(line for line in diff if not line.startswith(("---", "+++", "@@"))))
    total = [r for r in results if r["difference"]]
    print(f"\nall cells: {sum(bool(r['failed']) for r in total)} of {len(total)} non-equivalent mutants killed; "
          f"{len(results)} mutants judged in {seconds:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--cells", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--limit", type=int, default=0, help="at most this many mutants per cell (0: all)")
    options = parser.parse_args()
    from autograder.assignment import course

    originals = {cell: ast.unparse(ast.parse(course.cells((cell,))[cell])) for cell in options.cells}
    jobs = []
    for cell in options.cells:
        found = list(mutants(course.cells((cell,))[cell]))
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
