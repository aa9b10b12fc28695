"""Part B's learning run, with the grader holding the labels, the data order and the loss.

The student's process only builds the course classifier around the student's layer, runs it forward
on the token ids it is sent and applies the gradient it is sent back (probes ``start_learning`` and
``learning_step``).  :func:`train` is the grader's half: it draws each epoch's batch order, computes
the cross-entropy of the logits that came back against labels the worker never received, and sends
back that loss's gradient with respect to the logits.  So the loss curve is the grader's own
arithmetic (the same as the course's ``train_one_epoch``: same order, same mean loss per batch), and
a layer can lower it only by making the classifier's logits fit the labels.  The gradient sent back
does carry each batch's labels in its sign, which is what a memorising layer could still use
(SECURITY.md).  The check and ``benchmarks/learning_threshold.py`` both run this one function.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from autograder.errors import CheckFailed

TRAINING = dict(epochs=5, lr=5e-3, batch_size=32)
MODEL = dict(embed_dim=32, num_heads=4, ffn_dim=64, num_layers=4)
SEED = 0
CHANCE = math.log(2)

# step(token_ids of one batch, gradient for the previous batch's logits or None) -> the worker's reply
Step = Callable[[np.ndarray, "np.ndarray | None"], Any]


def train(step: Step, train_x: np.ndarray, train_y: np.ndarray, *, seed: int, epochs: int,
          batch_size: int) -> list[float]:
    """The mean training cross-entropy of each epoch, over the batches as the grader saw them.

    The last epoch's gradient is never sent: it would change nothing the grader measures.
    """
    labels = torch.from_numpy(np.asarray(train_y, dtype=np.int64))
    generator = torch.Generator().manual_seed(seed)
    grad: np.ndarray | None = None
    losses, steps = [], 0
    for epoch in range(epochs):
        order = torch.randperm(len(train_x), generator=generator).numpy()
        total = 0.0
        for start in range(0, len(order), batch_size):
            batch = order[start:start + batch_size]
            steps += 1
            logits = checked_logits(step(train_x[batch], grad), len(batch), f"training step {steps} (epoch {epoch + 1})")
            loss, grad = cross_entropy(logits, labels[batch])
            total += loss * len(batch)
        losses.append(total / len(order))
    return losses


def cross_entropy(logits: np.ndarray, labels: torch.Tensor) -> tuple[float, np.ndarray]:
    """(mean cross-entropy, its gradient w.r.t. the logits), as the course's F.cross_entropy computes them."""
    given = torch.from_numpy(logits.astype(np.float32)).requires_grad_(True)
    loss = F.cross_entropy(given, labels)
    loss.backward()
    return loss.item(), given.grad.numpy().copy()


def checked_logits(reply: Any, batch: int, where: str) -> np.ndarray:
    """The reply's logits if they are what a classifier gives for ``batch`` reviews, else CheckFailed."""
    if isinstance(reply, dict) and isinstance(reply.get("problem"), str):
        raise CheckFailed(f"at {where}: {reply['problem'][:2000]}")
    logits = reply.get("logits") if isinstance(reply, dict) else None
    if not isinstance(logits, np.ndarray) or not np.issubdtype(logits.dtype, np.floating):
        raise CheckFailed(f"at {where}: no logits came back from the classifier built from your layer")
    if logits.shape != (batch, 2):
        raise CheckFailed(f"at {where}: the classifier built from your layer gave logits of shape "
                          f"{tuple(logits.shape)} for a batch of {batch} reviews; they should be ({batch}, 2)")
    if not np.isfinite(logits).all():
        raise CheckFailed(f"at {where}: the classifier's logits are NaN or infinite, so your layer's output "
                          "was; look for a division by zero, a log or sqrt of a negative number, or values "
                          "that grow without a layer norm")
    return logits
