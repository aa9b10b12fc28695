# Correct: the output from F.scaled_dot_product_attention with a boolean mask, weights by hand; reshape/permute head split, sizes read from the input.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    keep = None if mask is None else (mask != 0)
    output = F.scaled_dot_product_attention(Q, K, V, attn_mask=keep)
    scores = Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))
    if keep is not None:
        scores = scores.masked_fill(~keep, -1e9)
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
        shape = x.shape[:-1] + (self.num_heads, -1)
        Q = self.W_q(x).reshape(shape).permute(0, 2, 1, 3)
        K = self.W_k(x).reshape(shape).permute(0, 2, 1, 3)
        V = self.W_v(x).reshape(shape).permute(0, 2, 1, 3)
        context, weights = scaled_dot_product_attention(Q, K, V, mask=mask)
        context = context.permute(0, 2, 1, 3).flatten(2)
        return self.W_o(context), weights
