"""The hook part's training schedule: the course classifier trained a few steps with a hook in place.

Both sides run it: the worker with the student's ``make_attention_hook`` and
``register_attention_hook`` (probe ``hook_training``), the grader with the reference hook and a
recorder on every attention module, to know what the student's storage should hold.  It reports
what happened (what the storage held after each step, the losses, which modules got hooks,
whether ``.numpy()`` worked on what was stored) and judges nothing.  The worker imports it before
it locks itself down, so it imports only torch and numpy.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

MAX_ITEMS = 12
MAX_ELEMENTS = 100_000   # the weights of a batch are 8192 numbers; 24 such arrays stay under the reply limit
_HOOK_DICTS = (("forward", "_forward_hooks"), ("forward pre", "_forward_pre_hooks"),
               ("backward", "_backward_hooks"), ("backward pre", "_backward_pre_hooks"))


def _hook_counts(model: nn.Module) -> dict[tuple[str, str], int]:
    """How many hooks of each kind every module of ``model`` has, and the global module hooks."""
    counts = {}
    for name, module in model.named_modules():
        for kind, attribute in _HOOK_DICTS:
            counts[(name or "the classifier", kind)] = len(getattr(module, attribute, {}) or {})
    from torch.nn.modules import module as module_globals

    for kind, attribute in _HOOK_DICTS:
        counts[("every module (global)", kind)] = len(getattr(module_globals, f"_global{attribute}", {}) or {})
    return counts


def _new_hooks(before: dict[tuple[str, str], int], after: dict[tuple[str, str], int]) -> list[str]:
    added = []
    for (where, kind), count in after.items():
        extra = count - before.get((where, kind), 0)
        if extra > 0:
            added.append(f"{where} ({kind} hook)" if extra == 1 else f"{where} ({extra} {kind} hooks)")
    return sorted(added)


def _snapshot(item: Any) -> dict[str, Any]:
    """What one stored item is, and its values as a plain float64 array when it has any."""
    info: dict[str, Any] = {"type": type(item).__name__, "array": None}
    if isinstance(item, torch.Tensor):
        info.update(shape=list(item.shape), dtype=str(item.dtype).replace("torch.", ""),
                    requires_grad=bool(item.requires_grad), device=str(item.device), is_tensor=True)
        if item.numel() <= MAX_ELEMENTS and (item.is_floating_point() or not item.is_complex()):
            info["array"] = item.detach().to("cpu", torch.float64).numpy().copy()
    elif isinstance(item, np.ndarray):
        info.update(shape=list(item.shape), dtype=str(item.dtype), is_tensor=False)
        if item.size <= MAX_ELEMENTS and np.issubdtype(item.dtype, np.number) and not np.iscomplexobj(item):
            info["array"] = item.astype(np.float64).copy()
    elif isinstance(item, (tuple, list)):
        info.update(length=len(item), items=[type(part).__name__ for part in item[:4]], is_tensor=False)
    else:
        info["is_tensor"] = False
    return info


def _numpy_error(item: Any) -> str | None:
    """What ``item.numpy()`` raised, as plotting code would call it (None if it worked)."""
    try:
        item.numpy()
    except Exception as exc:  # whatever the stored object is
        return f"{type(exc).__name__}: {exc}"[:300]
    return None


class PlainSGD:
    """``p -= lr * p.grad``: what ``train_one_epoch`` needs of an optimizer (zero_grad, step).

    Building any ``torch.optim`` optimizer imports ``torch._dynamo`` (2-3 s per worker); this does not.
    """

    def __init__(self, parameters: Any, lr: float) -> None:
        self.parameters, self.lr = list(parameters), lr

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for parameter in self.parameters:
            if parameter.grad is not None:
                parameter.add_(parameter.grad, alpha=-self.lr)


def run_schedule(namespace: dict[str, Any], make_hook: Callable, register: Callable, *, state: dict[str, np.ndarray],
                 vocab_size: int, model: dict[str, Any], batches_x: list[np.ndarray], batches_y: list[np.ndarray],
                 schedule: list[list[Any]], seed: int, lr: float,
                 observe: Callable[[nn.Module], None] | None = None) -> dict[str, Any]:
    """Build the course classifier with ``state``, hook it, and run ``schedule``.

    Steps: ``["train", i]`` (the course's ``train_one_epoch`` on batch i: one SGD step),
    ``["eval", i]`` (eval mode, no_grad forward of batch i), ``["remove"]`` (``handle.remove()``).
    """
    torch.manual_seed(seed)
    classifier = namespace["SentimentClassifier"](vocab_size, namespace["BuggyTransformerEncoderLayer"], **model)
    classifier.load_state_dict({name: torch.from_numpy(np.asarray(value)) for name, value in state.items()})
    optimizer = PlainSGD(classifier.parameters(), lr)
    if observe is not None:
        observe(classifier)
    storage: list[Any] = []
    before = _hook_counts(classifier)
    handle = register(classifier, make_hook(storage))
    after = _hook_counts(classifier)
    hooked = _new_hooks(before, after)
    result: dict[str, Any] = {"hooked": hooked, "handle_type": type(handle).__name__,
                              "handle_has_remove": callable(getattr(handle, "remove", None)),
                              "remove_error": None, "lengths": [], "losses": [], "logits": [], "at_store": []}
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train_one_epoch = namespace["train_one_epoch"]
    for step in schedule:
        kind = step[0]
        if kind == "train":
            tokens, labels = torch.from_numpy(batches_x[step[1]]), torch.from_numpy(batches_y[step[1]])
            loss, _ = train_one_epoch(classifier, tokens, labels, optimizer, batch_size=len(tokens),
                                      generator=generator)
            result["losses"].append(float(loss))
        elif kind == "eval":
            classifier.eval()
            with torch.no_grad():
                logits, _ = classifier(torch.from_numpy(batches_x[step[1]]))
            result["logits"].append(logits.detach().numpy().astype(np.float64))
        elif kind == "remove":
            try:
                handle.remove()
            except Exception as exc:  # None has no remove, a list has no remove, ...
                result["remove_error"] = f"{type(exc).__name__}: {exc}"[:300]
        else:
            raise ValueError(f"unknown step {step!r}")
        start = len(result["at_store"])
        result["at_store"] += [_snapshot(item)["array"] for item in storage[start:MAX_ITEMS]]
        result["lengths"].append(len(storage))
    result["items"] = [dict(_snapshot(item), numpy_error=_numpy_error(item)) for item in storage[:MAX_ITEMS]]
    return result
