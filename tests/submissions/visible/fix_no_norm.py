# Wrong: both residuals restored, but no LayerNorm at all (norm1 and norm2 unused).
import torch
import torch.nn as nn
import torch.nn.functional as F


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
        x = x + self.dropout1(attn_output)
        x = x + self.dropout2(self.ffn(x))
        return x, attn_weights
