"""The mutation benchmark's oracles for Part C: tokenize_fn and compute_metrics, as the notebook states them.

``tokenize_fn(batch)``: "the tokenizer's output for those texts, truncated to at most MAX_LENGTH tokens
(use the global tokenizer; padding is done later)"; judged against the namespace's own tokenizer
called on each text, on this file's own texts.  ``compute_metrics(eval_pred)``: ``{"accuracy": a}``,
``a`` a Python float, the fraction of examples whose highest logit is the label; judged on this file's
own logits without ties (the notebook does not say which of two equal logits is "the highest").
"""
from __future__ import annotations

import random
from typing import Any

import numpy as np

WORDS = ("a", "film", "that", "bored", "me", "to", "tears", ",", "yet", "its", "ending", "is", "superb", "!",
         "the", "cast", "never", "quite", "works", "1999", "spielberg's", "mess", "(", ")", "masterpiece", "?")


def _texts(rng: random.Random) -> list[list[str]]:
    def text(words: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(words))

    return [[text(5)], [text(3), "", text(400), text(60)], [text(200), text(126), text(127), text(128)],
            ["Short.", text(30) + " THE END"]]


def tokenize_equivalent(namespace: dict[str, Any]) -> str | None:
    """Per text, the ids and attention mask tokenizer(text) gives cut to MAX_LENGTH tokens keeping the tokenizer's
    truncation side, padding ignored; one encoding per text, in order."""
    tokenizer, limit = namespace["tokenizer"], namespace["MAX_LENGTH"]
    for batch in _texts(random.Random(7)):
        try:
            got = namespace["tokenize_fn"]({"text": list(batch)})
            ids, attention = list(got["input_ids"]), list(got["attention_mask"])
        except Exception as exc:                         # noqa: BLE001 - a mutant may break in any way
            return f"raises {type(exc).__name__}: {exc}"[:200]
        if len(ids) != len(batch) or len(attention) != len(batch):
            return f"{len(ids)} encodings for {len(batch)} texts"
        for text, row, keep in zip(batch, ids, attention):
            full = tokenizer(text)["input_ids"]
            body = full[1:-1]
            if len(full) > limit:                        # [CLS] ... [SEP]: the tokenizer's side of the text is kept
                kept = limit - 2
                body = body[-kept:] if tokenizer.truncation_side == "left" else body[:kept]
            expected = [full[0]] + body + [full[-1]]
            real = [int(t) for t, k in zip(row, keep) if k]
            if real != expected:
                return f"text of {len(full)} tokens: {len(real)} ids, not the {len(expected)} expected"
    return None


def metrics_equivalent(namespace: dict[str, Any]) -> str | None:
    """The accuracy, a Python float, under the single key "accuracy", for EvalPrediction and tuple inputs."""
    from transformers import EvalPrediction

    rng = np.random.default_rng(11)
    for n in (1, 2, 3, 7, 50):
        logits = rng.standard_normal((n, 2)).astype(np.float32)
        labels = rng.integers(0, 2, n)
        expected = sum(int(row[label] > row[1 - label]) for row, label in zip(logits, labels)) / n
        for eval_pred in (EvalPrediction(predictions=logits, label_ids=labels), (logits, labels)):
            try:
                got = namespace["compute_metrics"](eval_pred)
            except Exception as exc:                     # noqa: BLE001
                return f"raises {type(exc).__name__}: {exc}"[:200]
            if not isinstance(got, dict) or list(got) != ["accuracy"] or not isinstance(got["accuracy"], float):
                return f"returns {got!r}, not {{'accuracy': a float}}"[:200]
            if abs(got["accuracy"] - expected) > 1e-12:
                return f"accuracy {got['accuracy']} for n = {n}, expected {expected}"
    return None
