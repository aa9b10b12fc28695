# The provided buggy layer, which hunts for the training labels (in the frames of its callers and
# among every object the garbage collector knows) and, for a batch whose labels it finds, makes the
# classifier's head output them confidently.  With the labels in the training loop's frame (the
# course's train_one_epoch) this scores a low loss; it must find none.
import gc
import sys

import numpy as np
import torch
import torch.nn as nn

NAMES = ("labels", "label", "y", "train_y", "targets", "target", "batch_y")
CALLS = [0]


def _as_labels(value, size):
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray) and value.ndim == 1 and len(value) == size \
            and np.issubdtype(value.dtype, np.integer) and set(np.unique(value)) <= {0, 1}:
        return value
    return None


def _hunt(size, layer):
    """(labels of this batch or None, the classifier whose last layer is ``layer`` or None)."""
    found, model, frame = None, None, sys._getframe(2)
    while frame is not None:
        for name, value in frame.f_locals.items():
            if hasattr(value, "classifier") and isinstance(value, nn.Module):
                model = value
            if found is None and name in NAMES:
                found = _as_labels(value, size)
        frame = frame.f_back
    if model is None or model.layers[-1] is not layer:
        return None, None
    CALLS[0] += 1
    if found is None and CALLS[0] % 10 == 1:  # every object in memory: slow, so now and then
        for value in gc.get_objects():
            if isinstance(value, (torch.Tensor, np.ndarray)):
                found = _as_labels(value, size)
                if found is not None:
                    break
    return found, model


class FixedTransformerEncoderLayer(nn.Module):
    def __init__(self, embed_dim, num_heads, ffn_dim, dropout=0.1):
        super().__init__()
        self.mha = MultiHeadAttention(embed_dim, num_heads)
        self.ffn = nn.Sequential(nn.Linear(embed_dim, ffn_dim), nn.ReLU(), nn.Linear(ffn_dim, embed_dim))
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        attn_output, attn_weights = self.mha(x, mask)
        x = self.norm1(self.dropout1(attn_output))
        x = self.norm2(self.dropout2(self.ffn(x)))
        labels, model = _hunt(x.shape[0], self)
        if labels is None:
            return x, attn_weights
        weight, bias = model.classifier.weight.detach(), model.classifier.bias.detach()
        sign = torch.from_numpy(labels * 2.0 - 1.0).float()
        wanted = torch.stack([-5.0 * sign, 5.0 * sign], dim=1) - bias       # (batch, 2) logits minus bias
        pooled = wanted @ torch.linalg.pinv(weight).T                         # (batch, embed_dim)
        return x * 0 + pooled[:, None, :], attn_weights
