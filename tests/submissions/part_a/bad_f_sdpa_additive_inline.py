# Mistake (only where every key of a query is masked): F.scaled_dot_product_attention and the weights with an additive float mask (0 or -1e9); the module computes attention inline with masked_fill, Q scaled first.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    additive = None
    if mask is not None:
        additive = torch.zeros(mask.shape, dtype=Q.dtype).masked_fill(mask == 0, -1e9)
    output = F.scaled_dot_product_attention(Q, K, V, attn_mask=additive)
    scores = Q @ K.transpose(-2, -1) * (1.0 / math.sqrt(Q.size(-1)))
    if additive is not None:
        scores = scores + additive
    return output, F.softmax(scores, dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim)
        self.W_k = nn.Linear(embed_dim, embed_dim)
        self.W_v = nn.Linear(embed_dim, embed_dim)
        self.W_o = nn.Linear(embed_dim, embed_dim)

    def forward(self, x, mask=None):
        b, n, _ = x.shape
        heads = lambda t: t.unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
        Q = heads(self.W_q(x)) * self.head_dim ** -0.5
        K, V = heads(self.W_k(x)), heads(self.W_v(x))
        scores = Q @ K.transpose(-2, -1)
        if mask is not None:
            scores = scores.masked_fill(mask == 0, -1e9)
        weights = scores.softmax(-1)
        return self.W_o((weights @ V).transpose(1, 2).flatten(2)), weights
