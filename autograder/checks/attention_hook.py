"""Part B: the student's attention hook, watched during a short real training run.

The worker builds the course's ``SentimentClassifier`` (a stack of the provided buggy layers,
with our ``MultiHeadAttention``) from parameters the grader sends, registers the student's hook
with ``register_attention_hook(model, make_attention_hook(storage))``, and runs a fixed schedule:
three training steps (the course's ``train_one_epoch`` on one small batch each, plain SGD), one
eval forward under ``no_grad``, ``handle.remove()``, then one more training step and eval forward.  The grader
runs the same schedule with the reference hook and a recorder on every layer's attention module
(one thread, same seeds, same data), so it knows every pass's attention weights and losses.

Which layer: the notebook asks for the **last** encoder layer's attention module
(``model.layers[-1].mha``), whose map shows the bug (from the second layer on, the buggy stack's
attention is uniform).  ``hook_stores_weights`` accepts the weights of any layer's attention
module; only ``hook_on_last_layer`` asks for the last one, so a student who followed
the original assignment and hooked the first layer loses that point only.

On a CPU-only grader, a hook that forgets ``.cpu()`` cannot be told from one that has it.
"""
from __future__ import annotations

import weakref
from functools import cache
from typing import Any

import numpy as np
import torch

from autograder.assignment import course, reference
from autograder.assignment.hook_schedule import MAX_ELEMENTS, MAX_ITEMS, run_schedule
from autograder.checks.compare import FLOAT32_VS_FLOAT32, close, describe_mismatch
from autograder.checks.registry import Student, check, isolated_torch
from autograder.errors import CheckFailed, MalformedReply

PART = "part-b-hook"
CELL = "test_attention_hook"
SEED = 0
LR = 0.1
VOCAB_SIZE = 60
BATCH, LENGTH = 8, 16
# passed to SentimentClassifier: none, so the notebook's defaults (4 layers of width 32, 4 heads)
CLASSIFIER_OPTIONS: dict[str, Any] = {}
SCHEDULE = [["train", 0], ["train", 1], ["train", 2], ["eval", 3], ["remove"], ["train", 4], ["eval", 3]]
HOOKED_PASSES = 4                   # the forward passes before ["remove"]
STEP_NAMES = ["training step 1", "training step 2", "training step 3", "the eval forward pass (no_grad)",
              "handle.remove()", "training step 4 (after remove)", "an eval forward pass (after remove)"]
LOSS_TOLERANCE = 1e-5
MAX_STORED = 10_000                 # more stored objects than any hook can add in the schedule's few passes
PASS_OF_STEP = {step: index for index, step in enumerate(i for i, entry in enumerate(SCHEDULE) if entry[0] != "remove")}


def hook_data() -> dict[str, Any]:
    """Five batches of token ids (some rows left-padded with 0, as in the course) and labels."""
    rng = np.random.default_rng(2024)
    batches_x, batches_y = [], []
    for _ in range(5):
        tokens = rng.integers(2, VOCAB_SIZE, size=(BATCH, LENGTH), dtype=np.int64)
        for row in range(0, BATCH, 2):
            tokens[row, :int(rng.integers(1, LENGTH // 2))] = 0
        batches_x.append(tokens)
        batches_y.append(rng.integers(0, 2, size=BATCH, dtype=np.int64))
    return {"batches_x": batches_x, "batches_y": batches_y}


@cache
def reference_run() -> dict[str, Any]:
    """The schedule run with the reference hook: its results, the request workers get, and every
    layer's (context, weights) per forward pass (isolated itself: tests call it outside a check)."""
    scope = course.namespace(course.PART_B_CELLS)
    with isolated_torch():
        torch.manual_seed(SEED)
        model = scope["SentimentClassifier"](VOCAB_SIZE, scope["BuggyTransformerEncoderLayer"], **CLASSIFIER_OPTIONS)
        state = {name: value.detach().numpy().copy() for name, value in model.state_dict().items()}
        request = dict(state=state, vocab_size=VOCAB_SIZE, model=CLASSIFIER_OPTIONS, **hook_data(), schedule=SCHEDULE,
                       seed=SEED, lr=LR)
        layers: list[list[tuple[np.ndarray, np.ndarray]]] = []

        def observe(classifier: torch.nn.Module) -> None:
            for index, layer in enumerate(classifier.layers):
                layers.append([])

                def record(module, inputs, output, passes=layers[index]):
                    passes.append((output[0].detach().double().numpy().copy(),
                                   output[1].detach().double().numpy().copy()))
                layer.mha.register_forward_hook(record)

        run = run_schedule(scope, reference.make_attention_hook, reference.register_attention_hook,
                           observe=observe, **request)
    return {"request": request, "run": run, "layers": layers}


_RUNS: weakref.WeakKeyDictionary[Any, tuple[bool, Any]] = weakref.WeakKeyDictionary()


def _short_strings(value: Any, count: int) -> bool:
    return isinstance(value, list) and len(value) <= count and all(isinstance(v, str) and len(v) <= 300 for v in value)


def _plain_item(item: dict[str, Any]) -> bool:
    """One stored item's description, as ``hook_schedule._snapshot`` writes it, with bounded fields."""
    shape = item.get("shape", [])
    return (isinstance(item.get("type"), str) and len(item["type"]) <= 300
            and isinstance(shape, list) and len(shape) <= 8 and all(type(n) is int for n in shape)
            and _short_strings(item.get("items", []), 4)
            and all(item.get(key) is None or isinstance(item[key], str) and len(item[key]) <= 300
                    for key in ("dtype", "device", "numpy_error"))
            and all(isinstance(item.get(key, False), bool) for key in ("is_tensor", "requires_grad")))


def _checked_reply(run: Any) -> dict[str, Any]:
    """The worker's reply, if it has exactly the form ``run_schedule`` gives (else MalformedReply).

    Every count and size is checked against what the schedule can produce before the checks
    build anything from it: a forged length must not make the grader allocate.
    """
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise MalformedReply(f"the hook run's reply is malformed ({what}); it was not produced by the "
                                 "course's training schedule")

    need(isinstance(run, dict), "not a mapping")
    lengths, items, at_store = run.get("lengths"), run.get("items"), run.get("at_store")
    need(isinstance(lengths, list) and len(lengths) == len(SCHEDULE)
         and all(type(n) is int and 0 <= n <= MAX_STORED for n in lengths), "storage lengths")
    need(isinstance(items, list) and len(items) <= MAX_ITEMS and all(isinstance(i, dict) for i in items), "items")
    need(isinstance(at_store, list) and len(at_store) <= MAX_ITEMS, "snapshots")
    arrays = [item.get("array") for item in items] + at_store + list(run.get("logits") or [])
    need(all(a is None or (isinstance(a, np.ndarray) and a.size <= MAX_ELEMENTS) for a in arrays), "arrays")
    need(all(_plain_item(item) for item in items), "stored items")
    losses = run.get("losses")
    need(isinstance(losses, list) and len(losses) <= len(SCHEDULE)
         and all(isinstance(v, float) for v in losses), "losses")
    hooked = run.get("hooked")
    need(_short_strings(hooked, 1000), "hooked modules")
    need(isinstance(run.get("handle_type"), str) and isinstance(run.get("handle_has_remove"), bool)
         and (run.get("remove_error") is None or isinstance(run.get("remove_error"), str)), "handle")
    return run


def student_run(student: Student) -> dict[str, Any]:
    """The student's run of the schedule, made once per student and shared by the hook checks."""
    if student not in _RUNS:
        try:
            _RUNS[student] = (True, _checked_reply(student.call("hook_training", **reference_run()["request"])))
        except BaseException as exc:  # StudentError, WorkerLost or MalformedReply: every hook check reports it
            _RUNS[student] = (False, exc)
    ok, value = _RUNS[student]
    if not ok:
        raise value
    return value


def _same(got: np.ndarray | None, expected: np.ndarray) -> bool:
    return close(got, expected, FLOAT32_VS_FLOAT32)


def _added(lengths: list[int]) -> list[int]:
    return [after - before for before, after in zip([0] + lengths[:-1], lengths)]


def _last_layer() -> int:
    return len(reference_run()["layers"]) - 1


def _hooked_text(run: dict[str, Any]) -> str:
    return f"hooks registered by register_attention_hook: {', '.join(run['hooked']) or 'none'}"


def _need_something_stored(run: dict[str, Any]) -> None:
    if run["lengths"][HOOKED_PASSES - 1] == 0:
        raise CheckFailed("during training with your hook in place nothing was added to the list given to "
                          "make_attention_hook(storage), so this cannot be checked: does the hook append to that "
                          "list, and does register_attention_hook register the hook_fn it is given? "
                          f"({_hooked_text(run)})")


def _diagnose_item(index: int, item: dict[str, Any], at_store: np.ndarray | None, layers: list) -> str:
    """Why stored item ``index`` is not the weights of pass ``index`` of any attention module."""
    last = len(layers) - 1
    expected_weights = layers[last][index][1]
    where = f"the tensor stored during {STEP_NAMES[index]}"
    if item["type"] in ("tuple", "list"):
        return (f"{where} is a {item['type']} of {item.get('length')} items ({', '.join(item.get('items', []))}): "
                "the attention module returns (context, weights); store only the weights, output[1]")
    if item.get("array") is None:
        return f"{where} is a {item['type']}, not the attention weights tensor output[1]"
    got = item["array"]
    for layer, passes in enumerate(layers):
        if _same(got, passes[index][0]):
            return (f"{where} is the context vector output[0] of layers.{layer}.mha, shape {tuple(got.shape)}; "
                    f"store the attention weights output[1], shape {tuple(expected_weights.shape)} "
                    "(batch, heads, query, key)")
    for passes in layers:
        if _same(at_store, passes[index][1]):
            later = [j for j in range(len(passes)) if j != index and _same(got, passes[j][1])]
            changed = (f"by the end of the run it held the weights of {STEP_NAMES[later[0]]}" if later
                       else "by the end of the run its values had changed")
            return (f"{where} held that pass's weights when it was stored, but {changed}: your storage keeps a "
                    "view of memory that is overwritten later; store a tensor of its own, e.g. "
                    "output[1].detach().cpu().clone()")
    if tuple(got.shape) != tuple(expected_weights.shape):
        return (f"{where} has shape {tuple(got.shape)}; the attention weights of a batch have shape "
                f"{tuple(expected_weights.shape)} (batch, heads, query, key): store output[1] whole")
    return describe_mismatch(f"{where}", expected_weights, got, where=f" (compared with layers.{last}.mha's weights)")


def _unchanged_passes(run: dict[str, Any]) -> int:
    """How many hooked passes can be compared with the reference run's.

    A hook that changes training (see hook_keeps_training) makes later passes differ, whether
    through the output it returns, the gradients or the random state; its first pass, at least,
    computed its weights before the hook could do anything.
    """
    losses, expected = np.asarray(run["losses"]), np.asarray(reference_run()["run"]["losses"])
    unchanged = losses.shape == expected.shape and bool(np.allclose(losses, expected, rtol=0, atol=LOSS_TOLERANCE))
    return HOOKED_PASSES if unchanged else 1


@check("hook_stores_weights", part=PART, test_cell=CELL, points=3)
def hook_stores_weights(student: Student) -> str:
    """During training, the hook stores exactly one tensor per forward pass: that pass's attention weights."""
    run, reference_layers = student_run(student), reference_run()["layers"]
    _need_something_stored(run)
    added = _added(run["lengths"][:HOOKED_PASSES])
    if any(count != 1 for count in added):
        steps = "; ".join(f"{STEP_NAMES[i]}: {count}" for i, count in enumerate(added))
        hint = (" Storing during the backward pass too (a backward hook, or a hook on a tensor) adds a second one "
                "per training step." if added[:3] != [1] * 3 and added[3] == 1 else "")
        raise CheckFailed(f"each forward pass of the classifier should add exactly one tensor to storage; yours "
                          f"added {steps}.{hint}\n{_hooked_text(run)}")
    passes = _unchanged_passes(run)
    items, at_store = run["items"][:passes], run["at_store"][:passes]
    note = "" if passes == HOOKED_PASSES else (
        " (only the first pass compared: your hook changes training, see hook_keeps_training)")
    for layer, recorded in enumerate(reference_layers):
        if all(_same(item.get("array"), recorded[i][1]) for i, item in enumerate(items)):
            return (f"stored one tensor per forward pass, shape {tuple(items[0]['shape'])}: layers.{layer}.mha's "
                    f"weights{note}")
    for index, item in enumerate(items):
        if not any(_same(item.get("array"), recorded[index][1]) for recorded in reference_layers):
            raise CheckFailed(_diagnose_item(index, item, at_store[index], reference_layers))
    raise CheckFailed("the stored tensors are attention weights, but not all of the same attention module: "
                      f"register one hook on one module ({_hooked_text(run)})")


def _stored_during_hooked_passes(run: dict[str, Any]) -> list[tuple[np.ndarray | None, np.ndarray | None, int]]:
    """(values at the end, values when stored, pass) of each item stored while the hook was in place,
    for the passes that can be compared with the reference run's (see _unchanged_passes)."""
    passes = _unchanged_passes(run)
    stored = []
    for item, at_store, step in zip(run["items"], run["at_store"] + [None] * MAX_ITEMS, _item_steps(run["lengths"])):
        if step < HOOKED_PASSES and PASS_OF_STEP[step] < passes:
            stored.append((item.get("array"), at_store, PASS_OF_STEP[step]))
    return stored


def _made_by(stored: list[tuple[np.ndarray | None, np.ndarray | None, int]]) -> int | None:
    """The layer whose attention module computed every stored item (its weights or its context), if one did.

    This is what the grader knows: each layer's outputs on each pass.  The student's worker can only
    match them by storing what that module computed.
    """
    layers = reference_run()["layers"]
    for layer in sorted(range(len(layers)), key=lambda index: index != len(layers) - 1):  # the last one first
        recorded = layers[layer]
        if stored and all(any(_same(values, recorded[index][output]) for values in (got, at_store) for output in (0, 1))
                          for got, at_store, index in stored):
            return layer
    return None


@check("hook_on_last_layer", part=PART, test_cell=CELL, points=1)
def hook_on_last_layer(student: Student) -> str:
    """register_attention_hook registers one forward hook, on the last encoder layer's attention module.

    Where a hook is registered is the worker's word (a claim); what the hook stored is numbers the
    grader knows per layer and pass.  The claim earns the point only where the numbers agree with it.
    """
    run = student_run(student)
    last = _last_layer()
    stored = _stored_during_hooked_passes(run)
    layer = _made_by(stored)
    if layer is not None and layer != last:
        raise CheckFailed(f"your hook is on layers.{layer}.mha (what it stored was computed there); the notebook asks "
                          f"for the last encoder layer's attention module, model.layers[-1].mha (layers.{last}.mha), "
                          "whose map shows the bug")
    wanted = f"layers.{last}.mha (forward hook)"
    if run["hooked"] == [wanted] and (layer == last or not any(run["lengths"])):
        return "registered on model.layers[-1].mha"
    if not run["hooked"]:
        raise CheckFailed("register_attention_hook registered no hook on the classifier's modules; register "
                          "hook_fn with model.layers[-1].mha.register_forward_hook(hook_fn)")
    if run["hooked"] == [f"layers.{last} (forward hook)"]:
        raise CheckFailed("your hook is on the encoder layer model.layers[-1] itself; register it on its "
                          "attention module, model.layers[-1].mha")
    if run["hooked"] == [wanted]:
        raise CheckFailed("what your hook stored is not what model.layers[-1].mha computed on those forward passes "
                          "(neither its weights nor its context): store what the module gives your hook")
    raise CheckFailed(f"register exactly one forward hook, on model.layers[-1].mha; {_hooked_text(run)}")


def _item_steps(lengths: list[int]) -> list[int]:
    """The schedule step during which each stored item was added."""
    steps, before = [], 0
    for step, after in enumerate(lengths):
        steps += [step] * max(0, after - before)
        before = max(before, after)
    return steps


@check("hook_detached_for_plotting", part=PART, test_cell=CELL, points=2)
def hook_detached_for_plotting(student: Student) -> str:
    """What the hook stores are tensors detached from the graph and on the CPU: .numpy() works on them."""
    run = student_run(student)
    _need_something_stored(run)
    steps = _item_steps(run["lengths"])
    for item, step in zip(run["items"], steps):
        if step >= HOOKED_PASSES:
            break
        where = f"the object stored during {STEP_NAMES[step]}"
        if not item.get("is_tensor"):
            raise CheckFailed(f"{where} is a {item['type']}; store a torch.Tensor (the plotting cell calls "
                              ".detach().cpu().numpy() on it)")
        if item.get("numpy_error"):
            why = (" it is still attached to the autograd graph (requires_grad=True); store output[1].detach().cpu()"
                   if item.get("requires_grad") else "")
            raise CheckFailed(f"calling .numpy() on {where} raised {item['numpy_error']}:{why}")
        if item.get("device") != "cpu":
            raise CheckFailed(f"{where} is on {item.get('device')}; move it to the CPU with .cpu()")
    return ".numpy() works on every stored tensor"


@check("hook_keeps_training", part=PART, test_cell=CELL, points=2)
def hook_keeps_training(student: Student) -> str:
    """Training with the hook in place gives the same losses and outputs as training without it."""
    run, expected = student_run(student), reference_run()["run"]
    _need_something_stored(run)
    losses, reference_losses = np.asarray(run["losses"]), np.asarray(expected["losses"])
    if losses.shape != reference_losses.shape or not np.allclose(losses, reference_losses, rtol=0, atol=LOSS_TOLERANCE):
        shown = ", ".join(f"{value:.6f}" for value in losses)
        wanted = ", ".join(f"{value:.6f}" for value in reference_losses)
        raise CheckFailed(f"with your hook in place the training losses were {shown}; without a hook they are "
                          f"{wanted}. A forward hook must only observe: return None (a returned value replaces "
                          "the module's output), do not modify the output in place, and do not draw random numbers "
                          "or change the module.")
    for got, want in zip(run["logits"], expected["logits"]):
        if not _same(got, want):
            raise CheckFailed("with your hook in place the classifier's eval-mode outputs change: "
                              + describe_mismatch("the logits", want, got))
    return (f"training with your hook in place gives the same losses as without it "
            f"({', '.join(f'{value:.4f}' for value in losses)}) and the same outputs")


@check("hook_remove_stops", part=PART, test_cell=CELL, points=2)
def hook_remove_stops(student: Student) -> str:
    """register_attention_hook returns the handle, and handle.remove() stops the hook."""
    run = student_run(student)
    _need_something_stored(run)
    if not run["handle_has_remove"] or run["remove_error"]:
        returned = "None" if run["handle_type"] == "NoneType" else f"a {run['handle_type']}"
        raise CheckFailed(f"register_attention_hook returned {returned}, and handle.remove() failed "
                          f"({run['remove_error']}); return the handle that register_forward_hook gives you")
    remove_step = [step[0] for step in SCHEDULE].index("remove")
    after = _added(run["lengths"])[remove_step + 1:]  # the worker's count: absence cannot be shown by numbers
    if any(after):
        raise CheckFailed(f"after handle.remove() your hook still stored {sum(after)} tensors in {len(after)} "
                          f"forward passes; {_hooked_text(run)}")
    return "nothing stored after handle.remove()"
