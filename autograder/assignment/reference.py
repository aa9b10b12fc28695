"""Our solutions: the ground truth the checks compare with, run in the grader's own process.

Written for clarity, not speed; the checks call them in float64.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MASK_FILL = -1e9


def scaled_dot_product_attention(Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor,
                                 mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(Q K^T / sqrt(d_k)) V, with scores set to -1e9 where ``mask == 0``."""
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, MASK_FILL)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights


class MultiHeadAttention(nn.Module):
    """Self-attention with ``num_heads`` heads of size ``embed_dim // num_heads``."""

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        assert embed_dim % num_heads == 0, "embed_dim must be divisible by num_heads"
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim)
        self.W_k = nn.Linear(embed_dim, embed_dim)
        self.W_v = nn.Linear(embed_dim, embed_dim)
        self.W_o = nn.Linear(embed_dim, embed_dim)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        batch, length, _ = x.shape
        Q, K, V = (self._split_heads(layer(x)) for layer in (self.W_q, self.W_k, self.W_v))
        context, weights = scaled_dot_product_attention(Q, K, V, mask)
        context = context.transpose(1, 2).reshape(batch, length, self.embed_dim)
        return self.W_o(context), weights


class PostLNEncoderLayer(nn.Module):
    """The encoder layer of "Attention Is All You Need": x = LayerNorm(x + Dropout(Sublayer(x)))."""

    def __init__(self, embed_dim: int, num_heads: int, ffn_dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.mha = MultiHeadAttention(embed_dim, num_heads)
        self.ffn = nn.Sequential(nn.Linear(embed_dim, ffn_dim), nn.ReLU(), nn.Linear(ffn_dim, embed_dim))
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        attn_output, weights = self.mha(x, mask)
        x = self.norm1(x + self.dropout1(attn_output))
        x = self.norm2(x + self.dropout2(self.ffn(x)))
        return x, weights


class PreLNEncoderLayer(PostLNEncoderLayer):
    """The pre-LN variant, also a correct fix: x = x + Dropout(Sublayer(LayerNorm(x)))."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        attn_output, weights = self.mha(self.norm1(x), mask)
        x = x + self.dropout1(attn_output)
        x = x + self.dropout2(self.ffn(self.norm2(x)))
        return x, weights


# Part B: the attention hook (the model answer of cell attention_hook).

def make_attention_hook(storage: list):
    """A forward hook that appends the attention weights (output[1]), detached and on the CPU, to ``storage``."""
    def hook_fn(module: nn.Module, inputs: tuple, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        storage.append(output[1].detach().cpu().clone())
    return hook_fn


def register_attention_hook(model: nn.Module, hook_fn):
    """Register ``hook_fn`` on the classifier's last encoder layer's attention module; return the handle."""
    return model.layers[-1].mha.register_forward_hook(hook_fn)
