# Mistake (only where every key of a query is masked): an additive mask, scores + (1 - keep) * -1e9, not the -1e9 score the notebook gives masked keys.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = Q.matmul(K.transpose(-1, -2)) / math.sqrt(K.size(-1))
    if mask is not None:
        scores = scores + (1.0 - (mask != 0).to(scores.dtype)) * -1e9
    weights = F.softmax(scores, dim=-1)
    return weights.matmul(V), weights


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
