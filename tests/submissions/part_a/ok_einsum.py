# Correct: einsum for the scores, the output and the head split/merge.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.einsum("bhqd,bhkd->bhqk", Q, K) / Q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = scores.softmax(dim=-1)
    return torch.einsum("bhqk,bhkd->bhqd", weights, V), weights


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
        h, d = self.num_heads, self.head_dim
        Q, K, V = (layer(x).reshape(b, n, h, d).permute(0, 2, 1, 3) for layer in (self.W_q, self.W_k, self.W_v))
        context, weights = scaled_dot_product_attention(Q, K, V, mask)
        merged = torch.einsum("bhnd->bnhd", context).reshape(b, n, h * d)
        return self.W_o(merged), weights
