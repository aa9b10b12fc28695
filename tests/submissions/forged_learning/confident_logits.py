# The provided buggy layer, which makes the classifier claim one class with certainty for every
# review: a loss that low can only come from logits that fit the labels, so the grader's loss is huge.
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
        x = self.norm1(self.dropout1(attn_output))
        x = self.norm2(self.dropout2(self.ffn(x)))
        return x * 1000.0, attn_weights
