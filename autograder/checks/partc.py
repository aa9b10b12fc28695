"""Part C: the two functions students write around the Hugging Face fine-tune, judged by their behaviour.

``compute_metrics`` gets what the Trainer gives it, an ``EvalPrediction`` (it unpacks as
``(logits, labels)``); ``tokenize_fn`` gets a batch ``{"text": [...]}`` and runs with the part's
trusted setup: the offline stand-in's tokenizer, set up as the notebook sets it up
(``truncation_side = "left"``), and ``MAX_LENGTH = 128``.  Every check draws its cases with
hypothesis (derandomized, no example database, no deadline, a fixed number of examples) and
compares with the same tokenizer here, padding ignored.

The checks of test cell ``test_partc``: ``compute_metrics_accuracy``, ``compute_metrics_format``,
``tokenize_fn_output``, ``tokenize_fn_truncates``, ``tokenize_fn_keeps_end``, ``tokenize_fn_batch``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from hypothesis import strategies as st

from autograder.assignment.course import PART_C_MAX_LENGTH as MAX_LENGTH
from autograder.assignment.offline_model import offline_tokenizer
from autograder.checks.registry import Student, check, for_all
from autograder.errors import CheckFailed

PART = "part-c"
CELL = "test_partc"
TOLERANCE = 1e-9


# ----------------------------------------------------------------------------------------------
# compute_metrics

@dataclass(frozen=True)
class MetricsCase:
    logits: tuple[tuple[float, float], ...]
    labels: tuple[int, ...]

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.array(self.logits, dtype=np.float32).reshape(-1, 2), np.array(self.labels, dtype=np.int64)

    @property
    def expected(self) -> float:
        logits, labels = self.arrays
        return float(np.mean(np.argmax(logits, axis=-1) == labels))

    def __str__(self) -> str:
        return (f"compute_metrics((logits, labels)) with logits = np.array({[list(row) for row in self.logits]}, "
                f"dtype=np.float32) and labels = np.array({list(self.labels)})")


_logit = st.one_of(st.sampled_from((-1.0, 0.0, 0.5, 1.0)), st.integers(-400, 400).map(lambda v: v / 100))


# No row has two equal logits: the notebook does not say which class a tie predicts (np.argmax picks
# class 0, ``logits[:, 1] >= logits[:, 0]`` class 1), and a trained model's logits never tie.
_row = st.tuples(_logit, _logit).filter(lambda row: row[0] != row[1])


def metrics_cases_of(n: int) -> st.SearchStrategy[MetricsCase]:
    return st.builds(MetricsCase, logits=st.lists(_row, min_size=n, max_size=n).map(tuple),
                     labels=st.lists(st.integers(0, 1), min_size=n, max_size=n).map(tuple))


metrics_cases = st.integers(1, 12).flatmap(metrics_cases_of)


def known_mistakes(case: MetricsCase) -> list[tuple[float, str]]:
    """(accuracy, when it comes out) for known mistakes, the most specific first."""
    logits, labels = case.arrays
    known = [(100 * case.expected, "you return the accuracy as a percentage (return the fraction "
                                   "of right predictions, between 0 and 1)")]
    try:
        with np.errstate(all="ignore"):
            known.append((float(np.mean(np.argmax(logits, axis=0) == labels)),
                          "np.argmax runs over axis 0, the examples (the classes are axis -1)"))
    except ValueError:
        pass
    known.append((1 - case.expected, "you return the error rate, 1 - accuracy"))
    return known


@check("compute_metrics_accuracy", part=PART, test_cell=CELL, points=3)
def compute_metrics_accuracy(student: Student) -> None:
    """compute_metrics returns the fraction of examples whose highest logit is the label.

    25 examples: 1 to 12 examples of 2 different logits each, labels 0 or 1.
    """
    def test(case: MetricsCase) -> None:
        logits, labels = case.arrays
        got = student.call("compute_metrics", logits=logits, labels=labels)
        if got["keys"] is None:
            raise CheckFailed(f"{case}:\ncompute_metrics returned a {got['type']}; return a dict {{'accuracy': a}}")
        if "accuracy" not in got["keys"]:
            raise CheckFailed(f"{case}:\nthe dict you return has no key 'accuracy' (its keys: {got['keys']})")
        if got["value"] is None:
            raise CheckFailed(f"{case}:\nthe accuracy you return is a {got['value_type']}, not a number")
        if abs(got["value"] - case.expected) <= TOLERANCE:
            return
        hints = [words for value, words in known_mistakes(case) if abs(got["value"] - value) <= TOLERANCE]
        raise CheckFailed(f"{case}:\nthe accuracy should be {case.expected:g} (predictions np.argmax(logits, "
                          f"axis=-1) = {np.argmax(logits, axis=-1).tolist()}), got {got['value']:g}"
                          + (f"; that is what you get when {', or when '.join(hints)}" if hints else ""))

    for_all(metrics_cases, test, examples=25)


@check("compute_metrics_format", part=PART, test_cell=CELL, points=1)
def compute_metrics_format(student: Student) -> None:
    """compute_metrics returns a dict with the single key "accuracy" holding a Python float.

    10 examples, each of 2 examples with 2 logits (the format does not depend on the number of
    examples; with 2 the results are the same shape whichever axis np.argmax runs over, so that
    mistake is compute_metrics_accuracy's alone).  A float subclass (numpy.float64) is a float; a
    numpy array, a float32 scalar or a tensor is not (the Trainer logs and compares these numbers).
    """
    def test(case: MetricsCase) -> None:
        logits, labels = case.arrays
        got = student.call("compute_metrics", logits=logits, labels=labels)
        if got["keys"] != ["accuracy"]:
            what = f"a dict with the keys {got['keys']}" if got["keys"] is not None else f"a {got['type']}"
            raise CheckFailed(f"{case}:\ncompute_metrics returned {what}; return a dict with the single key "
                              "'accuracy', {'accuracy': a}")
        if not got["is_float"]:
            raise CheckFailed(f"{case}:\nthe accuracy is a {got['value_type']}; return a Python float, "
                              "float(...) of it")

    for_all(metrics_cases_of(2), test, examples=10)


# ----------------------------------------------------------------------------------------------
# tokenize_fn

WORDS = ("the", "film", "movie", "plot", "story", "acting", "actor", "actress", "director", "script", "scene",
         "scenes", "character", "characters", "is", "was", "are", "and", "but", "not", "very", "really", "quite",
         "good", "bad", "great", "awful", "boring", "moving", "funny", "dull", "brilliant", "predictable",
         "unwatchable", "overacting", "cinematography", "soundtrack", "ending", "beginning", "i", "we", "it", "this",
         "that", "with", "of", "to", "in", "a", "an", "'s", "n't", ",", ".", "!", "?", "(", ")", "-", "1998",
         "spielberg", "hollywood", "sequel", "screenplay", "recommended", "disappointing", "masterpiece", "mess")


@dataclass(frozen=True)
class TextsCase:
    texts: tuple[str, ...]

    def __str__(self) -> str:
        shown = []
        for text in self.texts:
            tokens = len(full_ids(text))
            if not text:
                shown.append('""  (an empty text)')
            elif len(text) <= 70:
                shown.append(f"{text!r}  ({tokens} tokens)")
            else:
                shown.append(f"{text[:30]!r} ... {text[-30:]!r}  (a review of {len(text.split())} words, {tokens} "
                             f"tokens untruncated)")
        return "tokenize_fn({'text': [...]}) with the texts\n" + "\n".join(
            f"  [{index}] {line}" for index, line in enumerate(shown))


def review(words: int, seed: int) -> str:
    """A review of ``words`` words drawn from WORDS (drawn from a seed, so that hypothesis shrinks it in few steps)."""
    rng = np.random.default_rng([seed, words])
    return " ".join(WORDS[int(i)] for i in rng.integers(0, len(WORDS), words))


def _review(low: int, high: int) -> st.SearchStrategy[str]:
    return st.builds(review, st.integers(low, high), st.integers(0, 2**16))


SHORT = _review(1, 40)
LONG = _review(160, 320)


@lru_cache(maxsize=512)
def full_ids(text: str) -> tuple[int, ...]:
    """The text's token ids without truncation (with [CLS] and [SEP])."""
    return tuple(offline_tokenizer()(text)["input_ids"])


@lru_cache(maxsize=512)
def expected_ids(text: str) -> tuple[int, ...]:
    """What the notebook's call gives: tokenizer(text, truncation=True, max_length=MAX_LENGTH), the end kept."""
    return tuple(offline_tokenizer()(text, truncation=True, max_length=MAX_LENGTH)["input_ids"])


def unpadded(got: dict[str, Any], index: int) -> list[int]:
    """Text ``index``'s ids without padding: the positions its attention mask marks, else without pad tokens."""
    ids = got["input_ids"][index]
    masks = got.get("attention_mask")
    if masks is not None and index < len(masks) and len(masks[index]) == len(ids):
        return [token for token, keep in zip(ids, masks[index]) if keep]
    pad = offline_tokenizer().pad_token_id
    start, end = 0, len(ids)
    while end > start and ids[end - 1] == pad:
        end -= 1
    while start < end and ids[start] == pad:
        start += 1
    return ids[start:end]


def tokenize(student: Student, case: TextsCase) -> dict[str, Any]:
    got = student.call("tokenize", texts=list(case.texts))
    if got["input_ids"] is None:
        raise CheckFailed(f"{case}\nthe result has no input_ids (its keys: {got['keys']}): return the tokenizer's "
                          "output itself, tokenizer(batch['text'], ...)")
    if len(got["input_ids"]) != len(case.texts):
        raise CheckFailed(f"{case}\na batch of {len(case.texts)} texts gave {len(got['input_ids'])} encodings: encode "
                          "every text of batch['text'], in order")
    return got


def _decoded(ids: list[int] | tuple[int, ...], limit: int = 12) -> str:
    words = offline_tokenizer().convert_ids_to_tokens(list(ids))
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit // 2]) + " ... " + " ".join(words[-limit // 2:])


@check("tokenize_fn_output", part=PART, test_cell=CELL, points=2)
def tokenize_fn_output(student: Student) -> None:
    """tokenize_fn returns the tokenizer's output: input_ids and attention_mask for each text, the tokenizer's ids.

    8 examples of 1 to 3 short reviews (no truncation needed).
    """
    def test(case: TextsCase) -> None:
        got = tokenize(student, case)
        if got["attention_mask"] is None:
            raise CheckFailed(f"{case}\nthe result has no attention_mask (its keys: {got['keys']}): return the "
                              "tokenizer's whole output, not only the input_ids")
        for index, text in enumerate(case.texts):
            if len(got["attention_mask"][index]) != len(got["input_ids"][index]):
                raise CheckFailed(f"{case}\ntext [{index}]: {len(got['input_ids'][index])} input_ids but "
                                  f"{len(got['attention_mask'][index])} attention_mask entries")
            ids, expected = unpadded(got, index), list(full_ids(text))
            if ids != expected:
                raise CheckFailed(f"{case}\ntext [{index}]: you return the ids of `{_decoded(ids)}`; the tokenizer "
                                  f"gives `{_decoded(expected)}`: use the notebook's `tokenizer` on batch['text']")

    for_all(st.lists(SHORT, min_size=1, max_size=3).map(lambda texts: TextsCase(tuple(texts))), test, examples=8)


@check("tokenize_fn_truncates", part=PART, test_cell=CELL, points=2)
def tokenize_fn_truncates(student: Student) -> None:
    """Long reviews are truncated to exactly MAX_LENGTH tokens, short ones are left whole.

    8 examples of 1 to 3 reviews, at least one of them longer than MAX_LENGTH tokens.
    """
    def test(case: TextsCase) -> None:
        got = tokenize(student, case)
        for index, text in enumerate(case.texts):
            ids, full = unpadded(got, index), full_ids(text)
            if len(ids) > MAX_LENGTH:
                raise CheckFailed(f"{case}\ntext [{index}] gives {len(ids)} tokens, more than MAX_LENGTH = "
                                  f"{MAX_LENGTH}: pass truncation=True and max_length=MAX_LENGTH to the tokenizer")
            wanted = min(len(full), MAX_LENGTH)
            if len(ids) != wanted:
                raise CheckFailed(f"{case}\ntext [{index}] ({len(full)} tokens untruncated) gives {len(ids)} tokens; "
                                  f"it should give {wanted}: truncate to max_length=MAX_LENGTH ({MAX_LENGTH}), "
                                  "not to another length")

    texts = st.tuples(LONG, st.lists(st.one_of(SHORT, LONG), max_size=2), st.integers(0, 2)).map(
        lambda drawn: TextsCase(tuple(drawn[1][:drawn[2]] + [drawn[0]] + drawn[1][drawn[2]:])))
    for_all(texts, test, examples=8)


@check("tokenize_fn_keeps_end", part=PART, test_cell=CELL, points=1)
def tokenize_fn_keeps_end(student: Student) -> None:
    """A truncated review keeps its end, as the notebook's tokenizer (truncation_side="left") does.

    6 examples of 1 or 2 long reviews; the ids must equal tokenizer(text, truncation=True,
    max_length=MAX_LENGTH)'s, padding ignored.  Where the length is wrong (tokenize_fn_truncates
    reports that) only whether the review's last tokens are kept is judged.
    """
    def test(case: TextsCase) -> None:
        got = tokenize(student, case)
        for index, text in enumerate(case.texts):
            ids, expected, full = unpadded(got, index), list(expected_ids(text)), list(full_ids(text))
            if ids == expected:
                continue
            tail = full[-8:]
            if len(ids) != len(expected) and ids[-len(tail):] == tail:
                continue
            raise CheckFailed(f"{case}\ntext [{index}]: you keep `{_decoded(ids)}`, the notebook's tokenizer keeps "
                              f"`{_decoded(expected)}`. Reviews end with the verdict, so the notebook's tokenizer "
                              "truncates on the left (tokenizer.truncation_side = 'left'): call the global tokenizer "
                              "with truncation=True and max_length=MAX_LENGTH, without changing its settings or "
                              "cutting the text yourself")

    for_all(st.lists(LONG, min_size=1, max_size=2).map(lambda texts: TextsCase(tuple(texts))), test, examples=6)


@check("tokenize_fn_batch", part=PART, test_cell=CELL, points=1)
def tokenize_fn_batch(student: Student) -> None:
    """A batch of several texts, an empty one among them, gives one right encoding per text, in order.

    8 examples of 2 to 5 short texts, one of them "".
    """
    def test(case: TextsCase) -> None:
        got = tokenize(student, case)
        for index, text in enumerate(case.texts):
            ids, expected = unpadded(got, index), list(full_ids(text))
            if ids != expected:
                raise CheckFailed(f"{case}\ntext [{index}]{' (the empty one)' if not text else ''}: you return "
                                  f"`{_decoded(ids)}`, the tokenizer gives `{_decoded(expected)}`")

    texts = st.tuples(st.lists(SHORT, min_size=1, max_size=4), st.integers(0, 4)).map(
        lambda drawn: TextsCase(tuple(drawn[0][:drawn[1]] + [""] + drawn[0][drawn[1]:])))
    for_all(texts, test, examples=8)
