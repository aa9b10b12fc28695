# Post-LN, written another way: the two sub-layers in a loop over (sub-layer, dropout, norm)
# triples, the residual added with torch.add, the mask passed by keyword.
import torch
from torch import nn


class FixedTransformerEncoderLayer(nn.Module):
    def __init__(self, embed_dim, num_heads, ffn_dim, dropout=0.1):
        super().__init__()
        self.mha = MultiHeadAttention(embed_dim, num_heads)
        self.ffn = nn.Sequential(nn.Linear(embed_dim, ffn_dim), nn.ReLU(), nn.Linear(ffn_dim, embed_dim))
        self.norm1, self.norm2 = nn.LayerNorm(embed_dim), nn.LayerNorm(embed_dim)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)

    def forward(self, x, mask=None):
        weights = None
        for sublayer, drop, norm in ((self._attend, self.dropout1, self.norm1),
                                     (self.ffn, self.dropout2, self.norm2)):
            out = sublayer(x) if sublayer is self.ffn else sublayer(x, mask)
            if isinstance(out, tuple):
                out, weights = out
            x = norm(torch.add(x, drop(out)))
        return x, weights

    def _attend(self, x, mask):
        return self.mha(x, mask=mask)
