# Correct, written differently: a loop over the texts padded to the longest, an accuracy counted by hand.
def tokenize_fn(batch):
    texts = [text for text in batch["text"]]
    return tokenizer(texts, truncation=True, max_length=MAX_LENGTH, padding=True)


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    right = 0
    for row, label in zip(logits, labels):
        right += int(int(row.argmax()) == int(label))
    return {"accuracy": right / len(labels)}
