# Correct: 3-D torch.bmm over (batch * heads), torch.where with a broadcast mask; one fused Q/K/V projection concatenating W_q, W_k, W_v's weights at forward time.
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
        b, n, e = x.shape
        weight = torch.cat([self.W_q.weight, self.W_k.weight, self.W_v.weight], dim=0)
        bias = torch.cat([self.W_q.bias, self.W_k.bias, self.W_v.bias], dim=0)
        qkv = F.linear(x, weight, bias).view(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        Q, K, V = qkv.unbind(0)
        context, weights = scaled_dot_product_attention(Q, K, V, mask)
        return self.W_o(context.transpose(1, 2).reshape(b, n, e)), weights
