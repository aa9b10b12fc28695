# Mistakes: extra keys in the result; empty texts are dropped from the batch.  Ties going to class 1 (>=)
# are no mistake: the notebook does not say how a tie is broken.
import numpy as np


def tokenize_fn(batch):
    return tokenizer([text for text in batch["text"] if text], truncation=True, max_length=MAX_LENGTH)


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    predictions = (logits[:, 1] >= logits[:, 0]).astype(int)
    accuracy = float((predictions == labels).mean())
    return {"accuracy": accuracy, "error": 1 - accuracy}
