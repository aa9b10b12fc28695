"""Part C: the two functions students write around the Hugging Face fine-tune."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from autograder.checks.base import CheckFailed, Student, check, for_all
from autograder.course import PART_C_MAX_LENGTH
from autograder.hf_offline import offline_tokenizer

PART = "part-c"
REVIEW = ("the film opens with a long and rather dull prologue , " * 30 +
          "but in the end it is a moving , funny and beautifully acted story . highly recommended !")

predictions = st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.floats(-5, 5, allow_nan=False, width=32), min_size=2, max_size=2), min_size=n, max_size=n),
    st.lists(st.integers(0, 1), min_size=n, max_size=n)))


@check("compute_metrics_accuracy", part=PART, test_cell="test_partc", points=5)
def compute_metrics_accuracy(student: Student) -> None:
    """compute_metrics returns {"accuracy": fraction of argmax predictions equal to the labels} as a float."""
    def test(case: tuple[list, list]) -> None:
        logits, labels = np.array(case[0], dtype=np.float32), np.array(case[1], dtype=np.int64)
        got = student.call("compute_metrics", logits=logits, labels=labels)
        expected = float((np.argmax(logits, axis=-1) == labels).mean())
        where = f"logits {logits.tolist()} and labels {labels.tolist()}"
        if got["keys"] != ["accuracy"]:
            raise CheckFailed(f"{where}: return a dict with the single key 'accuracy', got keys {got['keys']}")
        if got["type"] != "float":
            raise CheckFailed(f"{where}: the accuracy should be a Python float, got {got['type']} (use float(...))")
        if got["accuracy"] is None or abs(got["accuracy"] - expected) > 1e-9:
            raise CheckFailed(f"{where}: accuracy should be {expected:g} (a fraction between 0 and 1), got {got['accuracy']}")

    for_all(predictions, test, examples=25)


@check("tokenize_fn_truncates", part=PART, test_cell="test_partc", points=5)
def tokenize_fn_truncates(student: Student) -> None:
    """tokenize_fn encodes each text of the batch, truncated to MAX_LENGTH tokens, keeping the review's end."""
    tokenizer = offline_tokenizer()
    texts = ["a short review .", REVIEW, "", REVIEW.upper()]
    got = student.call("tokenize", texts=texts)
    if "attention_mask" not in got["keys"]:
        raise CheckFailed(f"return the tokenizer's whole output (input_ids and attention_mask), got keys {got['keys']}")
    if len(got["input_ids"]) != len(texts):
        raise CheckFailed(f"a batch of {len(texts)} texts gave {len(got['input_ids'])} encodings: encode batch['text']")
    for text, ids in zip(texts, got["input_ids"]):
        expected = tokenizer(text, truncation=True, max_length=PART_C_MAX_LENGTH)["input_ids"]
        unpadded = [token for token in ids if token != tokenizer.pad_token_id]
        if unpadded != expected:
            length = f"{len(unpadded)} tokens" if len(unpadded) != len(expected) else "other tokens"
            raise CheckFailed(f"for a review of {len(text.split())} words you return {length}; expected the "
                              f"tokenizer's output with truncation=True and max_length=MAX_LENGTH ({len(expected)} tokens)")
