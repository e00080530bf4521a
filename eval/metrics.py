"""Deterministic scores: retrieval ranks, SQuAD answer matching, citations, refusals."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from typing import Sequence


def unique_in_order(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def recall_at(ranked_docs: Sequence[str], gold: Sequence[str], k: int) -> float:
    """Share of the gold documents among the first k distinct documents."""
    if not gold:
        return 0.0
    top = set(unique_in_order(ranked_docs)[:k])
    return sum(1 for g in set(gold) if g in top) / len(set(gold))


def all_gold_at(ranked_docs: Sequence[str], gold: Sequence[str], k: int) -> float:
    """1 when every gold document is in the top k (what a multi-hop answer needs)."""
    return float(bool(gold) and recall_at(ranked_docs, gold, k) == 1.0)


def mrr_at(ranked_docs: Sequence[str], gold: Sequence[str], k: int = 10) -> float:
    for rank, doc in enumerate(unique_in_order(ranked_docs)[:k], start=1):
        if doc in set(gold):
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked_docs: Sequence[str], gold: Sequence[str], k: int = 10) -> float:
    gold_set = set(gold)
    if not gold_set:
        return 0.0
    dcg = sum(1.0 / math.log2(rank + 1)
              for rank, doc in enumerate(unique_in_order(ranked_docs)[:k], start=1) if doc in gold_set)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(gold_set)) + 1))
    return dcg / ideal


_ARTICLES = re.compile(r"\b(a|an|the|der|die|das|ein|eine)\b")


def normalize_answer(text: str) -> str:
    """SQuAD normalisation (lower case, no punctuation, articles or extra spaces), plus German articles."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation) | {"“", "”", "„", "’", "‘", "«", "»"})
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, answers: Sequence[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def token_f1(prediction: str, answers: Sequence[str]) -> float:
    """Best SQuAD token F1 of the prediction against any gold answer."""
    predicted = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(prediction: str, answers: Sequence[str]) -> float:
    """1 when a normalised gold answer appears inside the normalised prediction."""
    text = f" {normalize_answer(prediction)} "
    return float(any(f" {normalize_answer(a)} " in text for a in answers if normalize_answer(a)))
