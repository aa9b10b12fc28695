# Mistakes: the accuracy as a numpy array; truncation keeps the start of each review.
import numpy as np


def tokenize_fn(batch):
    tokenizer.truncation_side = "right"
    return tokenizer(batch["text"], truncation=True, max_length=MAX_LENGTH)


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    return {"accuracy": np.array((np.argmax(logits, axis=-1) == labels).mean())}
