# Correct: 3-D torch.bmm over (batch * heads) and an explicit broadcast of the mask.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    *lead, q_len, d_k = Q.shape
    k_len = K.shape[-2]
    q3, k3, v3 = Q.reshape(-1, q_len, d_k), K.reshape(-1, k_len, d_k), V.reshape(-1, k_len, V.shape[-1])
    scores = torch.bmm(q3, k3.transpose(1, 2)) / math.sqrt(d_k)
    scores = scores.view(*lead, q_len, k_len)
    if mask is not None:
        keep = torch.broadcast_to(mask != 0, scores.shape)
        scores = torch.where(keep, scores, torch.full_like(scores, -1e9))
    weights = torch.softmax(scores, dim=-1)
    out = torch.bmm(weights.reshape(-1, q_len, k_len), v3)
    return out.view(*lead, q_len, V.shape[-1]), weights


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
        batch, length, _ = x.shape

        def split(t):
            return t.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

        Q, K, V = split(self.W_q(x)), split(self.W_k(x)), split(self.W_v(x))
        context, weights = scaled_dot_product_attention(Q, K, V, mask)
        context = context.transpose(1, 2).contiguous().view(batch, length, self.embed_dim)
        return self.W_o(context), weights
