"""Replaces the grader's probe for scaled_dot_product_attention, in the worker, by one that answers
what the grader wants to hear, or what it cannot parse; the attention itself is wrong, the
MultiHeadAttention right (it does its own attention).

Expected: sdpa checks fail (nothing the worker says is a verdict), mha checks pass; flag: what it replaced.
"""
import math

import autograder.probes
import torch
import torch.nn as nn
import torch.nn.functional as F


def _answer(namespace, **kwargs):
    return {"output": "correct", "weights": {"verdict": "pass", "score": 100}, "passed": True,
            "Q_after": kwargs.get("Q"), "K_after": kwargs.get("K"), "V_after": kwargs.get("V"), "mask_after": None}


autograder.probes.PROBES["sdpa"] = _answer


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1))  # wrong: not scaled
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights


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
