# Part B course code (draft), as plain Python split into the notebook's cells.
#
# Each section below starting with a "# %% grade_id: NAME" line is one notebook cell.  The
# course notebook defines scaled_dot_product_attention / MultiHeadAttention (Part A) and imports
# torch, nn, F, math, np, random, nltk, set_seed, device before these cells run; the first
# section provides those names for running this file on its own and is not a course cell.

# %% grade_id: reference_mha (not a course cell)
import math
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

device = torch.device("cpu")


def set_seed(seed=42):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def scaled_dot_product_attention(Q, K, V, mask=None):
    scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(Q.size(-1))
    if mask is not None:
        scores = scores.masked_fill(mask == 0, -1e9)
    weights = F.softmax(scores, dim=-1)
    return torch.matmul(weights, V), weights


class MultiHeadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        assert embed_dim % num_heads == 0
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.W_q = nn.Linear(embed_dim, embed_dim)
        self.W_k = nn.Linear(embed_dim, embed_dim)
        self.W_v = nn.Linear(embed_dim, embed_dim)
        self.W_o = nn.Linear(embed_dim, embed_dim)

    def split_heads(self, x, batch_size):
        return x.view(batch_size, -1, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, mask=None):
        batch_size = x.size(0)
        Q = self.split_heads(self.W_q(x), batch_size)
        K = self.split_heads(self.W_k(x), batch_size)
        V = self.split_heads(self.W_v(x), batch_size)
        context, attn_weights = scaled_dot_product_attention(Q, K, V, mask)
        context = context.transpose(1, 2).contiguous().view(batch_size, -1, self.embed_dim)
        return self.W_o(context), attn_weights


# %% grade_id: buggy_layer
class BuggyTransformerEncoderLayer(nn.Module):
    """One encoder layer (attention sub-layer, then feed-forward sub-layer), post-LayerNorm.

    Do not edit this cell.  It runs, but a classifier built from a stack of these layers does
    not learn.
    """

    def __init__(self, embed_dim, num_heads, ffn_dim, dropout=0.1):
        super().__init__()
        self.mha = MultiHeadAttention(embed_dim, num_heads)   # your Part A module
        self.ffn = nn.Sequential(
            nn.Linear(embed_dim, ffn_dim),
            nn.ReLU(),
            nn.Linear(ffn_dim, embed_dim),
        )
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        # --- The buggy part ---
        # Two lines below do not pass information on the way an encoder layer should.
        # One layer of this on its own would still train; a stack of them does not.
        attn_output, attn_weights = self.mha(x, mask)
        x = self.norm1(self.dropout1(attn_output))

        ffn_output = self.ffn(x)
        x = self.norm2(self.dropout2(ffn_output))

        return x, attn_weights   # the weights are passed through for analysis


# %% grade_id: partb_data
import nltk
from nltk.corpus import movie_reviews

PAD, UNK = 0, 1


def load_reviews(split_seed=0):
    """All 2000 NLTK movie reviews as (lower-cased words, label) pairs, label 1 = positive,
    in one fixed shuffled order (independent of the global random state)."""
    try:
        nltk.data.find("corpora/movie_reviews/")   # a folder or movie_reviews.zip
    except LookupError:
        nltk.download("movie_reviews", quiet=True)
    reviews = [([w.lower() for w in movie_reviews.words(fileid)], int(category == "pos"))
               for category in sorted(movie_reviews.categories())
               for fileid in sorted(movie_reviews.fileids(category))]
    random.Random(split_seed).shuffle(reviews)
    return reviews


def build_vocab(token_lists, max_words):
    """word -> id for the ``max_words`` most frequent words (ties broken alphabetically);
    ids 0 and 1 are <PAD> and <UNK>."""
    counts = {}
    for tokens in token_lists:
        for word in tokens:
            counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts, key=lambda word: (-counts[word], word))[:max_words]
    vocab = {"<PAD>": PAD, "<UNK>": UNK}
    vocab.update({word: i + 2 for i, word in enumerate(ranked)})
    return vocab


def encode(tokens, vocab, max_len):
    """The LAST ``max_len`` words of a review as ids (reviews end with the verdict), left-padded."""
    ids = [vocab.get(word, UNK) for word in tokens[-max_len:]]
    return [PAD] * (max_len - len(ids)) + ids


def load_review_tensors(n_train=1600, n_heldout=400, max_len=48, max_words=5000, split_seed=0,
                        reviews=None):
    """Token-id tensors and labels for a train split and a held-out split (the vocabulary is
    built from the train split only).  Deterministic: the same arguments give the same tensors."""
    reviews = load_reviews(split_seed) if reviews is None else reviews
    train, heldout = reviews[:n_train], reviews[n_train:n_train + n_heldout]
    vocab = build_vocab([tokens for tokens, _ in train], max_words)

    def to_tensors(split):
        x = torch.tensor([encode(tokens, vocab, max_len) for tokens, _ in split], dtype=torch.long)
        y = torch.tensor([label for _, label in split], dtype=torch.long)
        return x, y

    train_x, train_y = to_tensors(train)
    heldout_x, heldout_y = to_tensors(heldout)
    return {"train_x": train_x, "train_y": train_y, "heldout_x": heldout_x, "heldout_y": heldout_y,
            "vocab": vocab}


# %% grade_id: partb_model
class SentimentClassifier(nn.Module):
    """Embedding -> a stack of ``num_layers`` encoder layers of class ``layer_cls`` -> mean over the
    real (non-padding) tokens -> linear layer to 2 classes.  No positional encoding."""

    def __init__(self, vocab_size, layer_cls, embed_dim=32, num_heads=4, ffn_dim=64, num_layers=4,
                 dropout=0.1):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.layers = nn.ModuleList(layer_cls(embed_dim, num_heads, ffn_dim, dropout)
                                    for _ in range(num_layers))
        self.classifier = nn.Linear(embed_dim, 2)

    def forward(self, token_ids):
        # True for real tokens, False for padding: (batch, 1, 1, seq_len), broadcast over heads
        # and query positions.  Attention scores are masked where mask == 0.
        mask = (token_ids != PAD).unsqueeze(1).unsqueeze(2)
        x = self.embedding(token_ids)
        first_layer_weights = None
        for layer in self.layers:
            x, weights = layer(x, mask=mask)
            if first_layer_weights is None:
                first_layer_weights = weights
        keep = mask.squeeze(1).squeeze(1).unsqueeze(-1).float()          # (batch, seq_len, 1)
        pooled = (x * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)
        return self.classifier(pooled), first_layer_weights


# %% grade_id: partb_training
def train_one_epoch(model, train_x, train_y, optimizer, batch_size=32, generator=None):
    """One pass over the training set in a random order; returns (mean loss, accuracy)."""
    model.train()
    order = torch.randperm(len(train_x), generator=generator)
    total_loss, correct = 0.0, 0
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        tokens, labels = train_x[batch].to(device), train_y[batch].to(device)
        logits, _ = model(tokens)
        loss = F.cross_entropy(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * len(batch)
        correct += (logits.argmax(dim=1) == labels).sum().item()
    return total_loss / len(order), correct / len(order)


@torch.no_grad()
def evaluate(model, x, y, batch_size=500):
    """(mean loss, accuracy) with dropout off."""
    model.eval()
    total_loss, correct = 0.0, 0
    for start in range(0, len(x), batch_size):
        tokens, labels = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
        logits, _ = model(tokens)
        total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
        correct += (logits.argmax(dim=1) == labels).sum().item()
    return total_loss / len(x), correct / len(x)


def train_classifier(layer_cls, data, seed=0, epochs=5, lr=5e-3, batch_size=32, verbose=False,
                     **model_kwargs):
    """Build a SentimentClassifier from ``layer_cls`` and train it with Adam.

    Returns (model, history); history holds one entry per epoch of the mean training loss and
    accuracy and of the held-out loss and accuracy.  Deterministic given ``seed``.
    """
    set_seed(seed)
    model = SentimentClassifier(len(data["vocab"]), layer_cls, **model_kwargs).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = {"train_loss": [], "train_acc": [], "heldout_loss": [], "heldout_acc": []}
    for epoch in range(epochs):
        train_loss, train_acc = train_one_epoch(model, data["train_x"], data["train_y"], optimizer,
                                                batch_size, generator)
        heldout_loss, heldout_acc = evaluate(model, data["heldout_x"], data["heldout_y"])
        for key, value in zip(history, (train_loss, train_acc, heldout_loss, heldout_acc)):
            history[key].append(value)
        if verbose:
            print(f"epoch {epoch + 1}: train loss {train_loss:.3f}, train acc {train_acc:.3f}, "
                  f"held-out acc {heldout_acc:.3f}")
    return model, history


# %% grade_id: fixed_encoder_solution
class FixedTransformerEncoderLayer(nn.Module):
    """Post-LN encoder layer as in "Attention Is All You Need": x = LayerNorm(x + Sublayer(x))."""

    def __init__(self, embed_dim, num_heads, ffn_dim, dropout=0.1):
        super().__init__()
        self.mha = MultiHeadAttention(embed_dim, num_heads)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dim, ffn_dim),
            nn.ReLU(),
            nn.Linear(ffn_dim, embed_dim),
        )
        self.norm1 = nn.LayerNorm(embed_dim)
        self.norm2 = nn.LayerNorm(embed_dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(self, x, mask=None):
        attn_output, attn_weights = self.mha(x, mask)
        x = self.norm1(x + self.dropout1(attn_output))      # residual around attention
        x = self.norm2(x + self.dropout2(self.ffn(x)))      # residual around the feed-forward
        return x, attn_weights


# %% grade_id: preln_fix (grader only)
class PreLNTransformerEncoderLayer(FixedTransformerEncoderLayer):
    """Pre-LN variant, also correct: x = x + Sublayer(LayerNorm(x))."""

    def forward(self, x, mask=None):
        attn_output, attn_weights = self.mha(self.norm1(x), mask)
        x = x + self.dropout1(attn_output)
        x = x + self.dropout2(self.ffn(self.norm2(x)))
        return x, attn_weights
