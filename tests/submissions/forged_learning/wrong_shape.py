# A fix that returns the residual stream and the attention output side by side (concatenated), so
# its output is twice as wide as its input and the layers cannot be stacked.
import torch
import torch.nn as nn


class FixedTransformerEncoderLayer(nn.Module):
    def __init__(self, embed_dim, num_heads, ffn_dim, dropout=0.1):
        super().__init__()
        self.mha = MultiHeadAttention(embed_dim, num_heads)
        self.ffn = nn.Sequential(nn.Linear(embed_dim, ffn_dim), nn.ReLU(), nn.Linear(ffn_dim, embed_dim))
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        attn_output, attn_weights = self.mha(x, mask)
        h = self.norm1(x + self.dropout1(attn_output))
        out = self.norm2(h + self.dropout2(self.ffn(h)))
        return torch.cat([out, attn_output], dim=-1), attn_weights
