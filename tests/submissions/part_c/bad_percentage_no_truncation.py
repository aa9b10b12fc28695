# Mistakes: the accuracy as a percentage; no truncation.
import numpy as np


def tokenize_fn(batch):
    return tokenizer(batch["text"])


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    return {"accuracy": float(100 * (np.argmax(logits, axis=-1) == labels).mean())}
