# Correct, written differently: EvalPrediction's attributes, a comparison for the prediction, a numpy.float64
# accuracy (a float subclass); padding to max_length with PyTorch tensors (padding is ignored).
import numpy as np


def tokenize_fn(batch):
    return tokenizer(batch["text"], padding="max_length", truncation=True, max_length=MAX_LENGTH,
                     return_tensors="pt")


def compute_metrics(eval_pred):
    logits, labels = eval_pred.predictions, eval_pred.label_ids
    predictions = (logits[:, 1] > logits[:, 0]).astype(np.int64)
    return {"accuracy": np.sum(predictions == labels) / len(labels)}
