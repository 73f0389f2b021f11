"""SQuAD answer scores and retrieval ranks, as in the official v1.1 evaluation script."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

from assistant.text import has_cjk

_PUNCTUATION = set(string.punctuation) | set("，。！？；：、“”‘’（）《》【】")


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation and English articles, fold white space (SQuAD v1.1)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _answer_tokens(text: str) -> list[str]:
    normal = normalize_answer(text)
    # Chinese has no spaces: score it character by character, as SQuAD-style Chinese benchmarks do.
    return [ch for ch in normal if not ch.isspace()] if has_cjk(normal) else normal.split()


def exact_match(prediction: str, golds: Iterable[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def f1(prediction: str, golds: Iterable[str]) -> float:
    """The best token F1 between the prediction and any gold answer."""
    best = 0.0
    predicted = _answer_tokens(prediction)
    for gold in golds:
        expected = _answer_tokens(gold)
        common = sum((Counter(predicted) & Counter(expected)).values())
        if common:
            precision, recall = common / len(predicted), common / len(expected)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(text: str, golds: Iterable[str]) -> bool:
    """A gold answer appears in the text (normalised, so case and punctuation do not matter)."""
    normal = f" {normalize_answer(text)} "
    return any(normalize_answer(g) and normalize_answer(g) in normal for g in golds)


def first_hit_rank(texts: list[str], golds: Iterable[str]) -> int | None:
    """1-based rank of the first text holding a gold answer, or None."""
    golds = list(golds)
    return next((rank for rank, text in enumerate(texts, start=1) if contains_answer(text, golds)), None)


def recall_at_k(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mean_reciprocal_rank(ranks: list[int | None], k: int) -> float:
    return sum(1 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0
