"""Honest code in many ordinary styles: none of it may be flagged."""
from __future__ import annotations

import copy
import dataclasses
import importlib
import math
import os
import random
import sys
import time
import warnings
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

get_ipython().run_line_magic("matplotlib", "inline")
warnings.filterwarnings("ignore")
torch.manual_seed(0)
np.random.seed(0)
random.seed(0)
torch.backends.cudnn.deterministic = True
plt.rcParams["figure.figsize"] = (6, 4)
DEBUG = os.environ.get("DEBUG", "") == "1"
DATA = os.path.join(os.path.dirname(os.path.abspath("x")), "data")
IN_COLAB = "google.colab" in sys.modules
started = time.time()
sys.stdout.write("starting\n")
sys.stdout.flush()
print("=" * 40, "the autograder checks this cell", "-" * 40)


@dataclass(frozen=True)
class Config:
    embed_dim: int = 64
    names: list[str] = field(default_factory=lambda: ["q", "k", "v", "o"])

    def __post_init__(self):
        object.__setattr__(self, "embed_dim", int(self.embed_dim))


class MultiHeadAttention(nn.Module):
    """Mentions of exec, eval, sys._getframe or the autograder in a docstring are only words."""

    def __init__(self, embed_dim, num_heads, config=Config()):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        for name in config.names:
            setattr(self, f"W_{name}", nn.Linear(embed_dim, embed_dim))
        self.__dict__["created"] = time.time()
        self.scale = 1.0 / math.sqrt(self.head_dim)

    def projections(self):
        return [getattr(self, "W_" + name) for name in ("q", "k", "v")] + [getattr(self, f"W_{'o'}")]

    def forward(self, x, mask=None, eval=False, compile=None):
        q, k, v = (layer(x) for layer in self.projections())
        scores = q @ k.transpose(-2, -1) * self.scale
        if mask is not None:
            scores = scores.masked_fill(mask == 0, float("-inf"))
        weights = F.softmax(scores, dim=-1)
        if eval:
            weights = weights.detach()
        return self.W_o(weights @ v), weights

    def __repr__(self):
        return f"{self.__class__.__name__}(heads={self.num_heads})"


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    return {"accuracy": float((np.argmax(logits, axis=-1) == labels).mean())}


def plot(history):
    fig, ax = plt.subplots()
    ax.plot(history["train_loss"], label="train")
    ax.legend()
    plt.close(fig)


clone = copy.deepcopy(Config())
fields = [f.name for f in dataclasses.fields(Config)]
model = MultiHeadAttention(8, 2).eval()
activation = getattr(F, "relu")
elapsed = time.time() - started
assert elapsed >= 0, "the autograder needs a clock"
try:
    raise ValueError("not /proc/self: only a message")
except ValueError as error:
    warnings.warn(str(error))
copy = importlib.reload(copy)
