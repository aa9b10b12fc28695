"""What a worker does with the student's code when the grader asks: run it on given inputs.

A probe takes the student's namespace and plain data (numpy arrays, numbers) and returns
plain data.  It judges nothing: the grader compares what comes back with the reference in
its own process.  Probes register with ``@probe``; their names are the protocol's verbs.
The probes of test cell ``test_X`` live in module ``X`` of this package, and a worker loads
only the modules of the test cells it serves: the MHA probes hold the notebook's attention
formula (to tell an MHA mistake from an attention one), so the worker that grades the
student's own attention must not have it to borrow.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

PROBES: dict[str, Callable[..., dict[str, Any]]] = {}
ATTENTION_LAYERS = ("W_q", "W_k", "W_v", "W_o")



class StudentAPIError(Exception):
    """The student's code does not have the shape the assignment asks for (raised in the worker; the
    grader sees it as a StudentError whose text names this class)."""


def probe(function: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    PROBES[function.__name__] = function
    return function


def defined_by_student(namespace: dict[str, Any], name: str) -> Any:
    """What the student's code defines as ``name``; a message they can act on if it defines nothing so named."""
    if name not in namespace:
        raise StudentAPIError(f"`{name}` is not defined: check its spelling and that its cell runs")
    return namespace[name]


def to_array(value: Any, what: str) -> np.ndarray:
    """A tensor the student returned, as a numpy array (float64 stays float64)."""
    if not isinstance(value, torch.Tensor):
        raise StudentAPIError(f"{what} should be a torch.Tensor, got {type(value).__name__}")
    return value.detach().cpu().numpy().copy()


def tensor(array: np.ndarray | None, requires_grad: bool = False) -> torch.Tensor | None:
    if array is None:
        return None
    result = torch.from_numpy(np.array(array))
    return result.requires_grad_(requires_grad) if requires_grad else result


def unpack_pair(result: Any, what: str) -> tuple[Any, Any]:
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise StudentAPIError(f"{what} should return a pair (output, attention_weights), got {type(result).__name__}")
    return result[0], result[1]


def backward(pairs: list[tuple[torch.Tensor, np.ndarray | None]]) -> None:
    """Backpropagate sum(output * upstream) over the given outputs, so gradients are comparable."""
    total = None
    for output, upstream in pairs:
        if upstream is None:
            continue
        if not output.requires_grad:
            raise StudentAPIError("no gradient flows through an output: was it detached or built without autograd?")
        term = (output * torch.from_numpy(upstream).to(output.dtype)).sum()
        total = term if total is None else total + term
    if total is not None:
        total.backward()


def grad_of(value: torch.Tensor) -> np.ndarray | None:
    return None if value.grad is None else value.grad.detach().cpu().numpy().copy()


def student_inputs(arrays: tuple[np.ndarray, ...], wants_grad: bool) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """(leaves, what the student gets): the same tensors, or non-leaf copies when gradients are wanted.

    With copies, an in-place edit of an input shows up in what :func:`as_left` reports (and in the
    inputs-unchanged checks only), not as an autograd error in a gradient check.
    """
    leaves = [tensor(array, wants_grad) for array in arrays]
    return leaves, [leaf.clone() if wants_grad else leaf for leaf in leaves]


def as_left(value: torch.Tensor | None) -> np.ndarray | None:
    """An input as the student's code left it after the call."""
    return None if value is None else value.detach().numpy().copy()


def backpropagate_outputs(result: dict[str, Any], pairs: list[tuple[str, torch.Tensor, np.ndarray | None]]) -> None:
    """Record which outputs carry a gradient; backpropagate sum(output * upstream) through those that do."""
    live = []
    for name, value, upstream in pairs:
        result[f"{name}_requires_grad"] = bool(value.requires_grad)
        if value.requires_grad and upstream is not None:
            live.append((value, upstream))
    backward(live)


def load_all() -> None:
    """Import every probe module (the notebook's hidden tests, which run in the student's own kernel)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def load_for(test_cells: list[str]) -> None:
    """Import the probe modules of these test cells (a worker, before it locks itself down)."""
    available = {module.name for module in pkgutil.iter_modules(__path__)}
    for cell in test_cells:
        name = cell.removeprefix("test_")
        if name not in available:
            raise ValueError(f"no probe module for test cell {cell!r}")
        importlib.import_module(f"{__name__}.{name}")
