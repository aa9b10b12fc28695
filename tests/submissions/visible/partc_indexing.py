# Correct: compute_metrics indexes the prediction, eval_pred[0] and eval_pred[1].
import numpy as np


def tokenize_fn(batch):
    return tokenizer(batch["text"], truncation=True, max_length=MAX_LENGTH)


def compute_metrics(eval_pred):
    logits, labels = eval_pred[0], eval_pred[1]
    return {"accuracy": float(np.mean(logits.argmax(axis=1) == labels))}
