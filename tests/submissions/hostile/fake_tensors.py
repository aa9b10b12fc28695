"""scaled_dot_product_attention returns tensors that pretend: one claims to equal and be close to anything
and turns into zeros when converted, the other turns into an array of Python objects.  MultiHeadAttention
is right (it does its own attention).

Expected: sdpa checks fail (their numbers are judged, not their claims; the objects cannot be sent),
mha checks pass.
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class LyingTensor(torch.Tensor):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def allclose(self, *args, **kwargs):
        return True

    def equal(self, *args, **kwargs):
        return True

    def detach(self):
        return self

    def cpu(self):
        return self

    def numpy(self, *args, **kwargs):
        return np.zeros(tuple(self.shape), dtype=np.float32)


class ObjectTensor(LyingTensor):
    def numpy(self, *args, **kwargs):
        return np.array([object() for _ in range(self.numel())], dtype=object).reshape(tuple(self.shape))


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V).as_subclass(LyingTensor), weights.as_subclass(ObjectTensor)


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim)
        self.W_k = nn.Linear(embed_dim, embed_dim)
        self.W_v = nn.Linear(embed_dim, embed_dim)
        self.W_o = nn.Linear(embed_dim, embed_dim)

    def split_heads(self, x):
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask=None):
        batch, length, _ = x.shape
        Q = self.split_heads(self.W_q(x))
        K = self.split_heads(self.W_k(x))
        V = self.split_heads(self.W_v(x))
        scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        weights = F.softmax(scores, dim=-1)
        context = torch.matmul(weights, V).transpose(1, 2).reshape(batch, length, self.embed_dim)
        return self.W_o(context), weights
