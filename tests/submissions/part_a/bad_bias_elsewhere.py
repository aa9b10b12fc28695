# Pretends to have no bias: W_q..W_o are built without one, but forward adds biases of its own
# (random, so not the grader's zero ones).  Graded against zero biases, it must gain nothing.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim, bias=False)
        self.W_k = nn.Linear(embed_dim, embed_dim, bias=False)
        self.W_v = nn.Linear(embed_dim, embed_dim, bias=False)
        self.W_o = nn.Linear(embed_dim, embed_dim, bias=False)
        self.own_biases = nn.Parameter(0.5 * torch.randn(4, embed_dim))

    def forward(self, x, mask=None):
        b, n, _ = x.shape
        b_q, b_k, b_v, b_o = self.own_biases

        def split(t):
            return t.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)

        Q, K, V = split(self.W_q(x) + b_q), split(self.W_k(x) + b_k), split(self.W_v(x) + b_v)
        context, weights = scaled_dot_product_attention(Q, K, V, mask)
        return self.W_o(context.transpose(1, 2).reshape(b, n, self.embed_dim)) + b_o, weights
