# Correct, written differently: named feed-forward submodules, parameters created in another order,
# a named residual, the mask as a keyword, the residual added on the other side.
from collections import OrderedDict

import torch.nn as nn


class FixedTransformerEncoderLayer(nn.Module):
    def __init__(self, embed_dim, num_heads, ffn_dim, dropout=0.1):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.mha = MultiHeadAttention(embed_dim, num_heads)
        self.ffn = nn.Sequential(OrderedDict([
            ("expand", nn.Linear(embed_dim, ffn_dim)),
            ("relu", nn.ReLU()),
            ("project", nn.Linear(ffn_dim, embed_dim)),
        ]))
        self.dropout1 = nn.Dropout(p=dropout)
        self.dropout2 = nn.Dropout(p=dropout)

    def forward(self, x, mask=None):
        residual = x
        attended, weights = self.mha(x, mask=mask)
        x = self.norm1(self.dropout1(attended) + residual)
        residual = x
        x = self.norm2(self.dropout2(self.ffn(x)) + residual)
        return x, weights
