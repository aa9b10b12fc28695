# Pre-LN, written another way: each residual branch computed in its own method, the sum done
# in place on a copy of the input.
import torch.nn as nn


class FixedTransformerEncoderLayer(nn.Module):
    def __init__(self, embed_dim, num_heads, ffn_dim, dropout=0.1):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim)
        self.mha = MultiHeadAttention(embed_dim, num_heads)
        self.dropout1 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.ffn = nn.Sequential(nn.Linear(embed_dim, ffn_dim), nn.ReLU(), nn.Linear(ffn_dim, embed_dim))
        self.dropout2 = nn.Dropout(dropout)

    def attention_branch(self, x, mask):
        attended, weights = self.mha(self.norm1(x), mask)
        return self.dropout1(attended), weights

    def feed_forward_branch(self, x):
        return self.dropout2(self.ffn(self.norm2(x)))

    def forward(self, x, mask=None):
        branch, weights = self.attention_branch(x, mask)
        h = x.clone()
        h += branch
        out = h + self.feed_forward_branch(h)
        return out, weights
