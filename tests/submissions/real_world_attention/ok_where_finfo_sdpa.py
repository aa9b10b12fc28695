# Correct (library style): torch.where with torch.finfo(dtype).min; the module's output from F.scaled_dot_product_attention with a bool mask.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q @ K.transpose(-2, -1) * Q.size(-1) ** -0.5
    if mask is not None:
        scores = torch.where(mask != 0, scores, torch.finfo(scores.dtype).min)
    weights = torch.softmax(scores, dim=-1)
    return weights @ V, weights


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim)
        self.W_k = nn.Linear(embed_dim, embed_dim)
        self.W_v = nn.Linear(embed_dim, embed_dim)
        self.W_o = nn.Linear(embed_dim, embed_dim)

    def forward(self, x, mask=None):
        b, n, _ = x.shape
        Q, K, V = (w(x).unflatten(-1, (self.num_heads, self.head_dim)).transpose(1, 2)
                   for w in (self.W_q, self.W_k, self.W_v))
        keep = None if mask is None else mask != 0
        context = F.scaled_dot_product_attention(Q, K, V, attn_mask=keep)
        _, weights = scaled_dot_product_attention(Q, K, V, mask)
        return self.W_o(context.transpose(1, 2).reshape(b, n, self.embed_dim)), weights
