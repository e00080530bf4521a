"""Deterministic scores: retrieval ranks, SQuAD answer matching, citations, refusals."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

import numpy as np

from eval.benchmark import Question
from rag.answer import Answer
from rag.citations import strip_marks
from rag.claims import facts, vocabulary
from rag.language import detect_language


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
    dcg = sum(
        1.0 / math.log2(rank + 1)
        for rank, doc in enumerate(unique_in_order(ranked_docs)[:k], start=1)
        if doc in gold_set
    )
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


# --------------------------------------------------------------------------- per question

RANKING_DEPTH = 10  # distinct documents kept from the separate retrieval call
RECALL_KS = (1, 5, 10)

# Every per-question score, in report order; None where it does not apply (retrieval
# and answer scores on an unanswerable question, a correct refusal on an answerable one).
RETRIEVAL_SCORES = (
    "recall@1",
    "recall@5",
    "recall@10",
    "mrr@10",
    "ndcg@10",
    "all_gold@5",
    "all_gold@10",
    "context_recall",
    "context_all_gold",
)
ANSWER_SCORES = ("exact_match", "f1", "f1_whole", "contained")
CITATION_SCORES = ("citation_precision", "citation_recall", "span_precision")
REFUSAL_SCORES = ("correct_refusal", "false_refusal")
# Claims: how many the verifier removed, and whether the shown answer still states a number
# or name that its cited evidence (or, uncited, the passages it was given) does not hold.
CLAIM_SCORES = ("claims_removed", "unsupported_shown")
SCORE_NAMES = RETRIEVAL_SCORES + ANSWER_SCORES + CITATION_SCORES + REFUSAL_SCORES + CLAIM_SCORES


def gold_answers(question: Question) -> list[str]:
    """Every acceptable answer: XQuAD also gives the answer in the question's and the
    document's language, and a cross-lingual answer may rightly be in either."""
    extra = [a for key in ("answers_q_lang", "answers_doc_lang") for a in question.extra.get(key) or []]
    return unique_in_order([*question.answers, *extra])


def retrieval_scores(ranked_docs: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    scores = {f"recall@{k}": recall_at(ranked_docs, gold, k) for k in RECALL_KS}
    scores["mrr@10"] = mrr_at(ranked_docs, gold, 10)
    scores["ndcg@10"] = ndcg_at(ranked_docs, gold, 10)
    scores["all_gold@5"] = all_gold_at(ranked_docs, gold, 5)
    scores["all_gold@10"] = all_gold_at(ranked_docs, gold, 10)
    return scores


def citation_scores(answer: Answer, gold_docs: Sequence[str], answers: Sequence[str]) -> dict[str, float | None]:
    """Precision: cited passages that come from a gold document or hold a gold answer.
    Recall: gold documents cited at least once. Precision is None when nothing is cited."""
    cited = {c.n: c for c in answer.citations}
    good = 0
    for n, citation in cited.items():
        passage_text = answer.passages[n - 1].text if 0 < n <= len(answer.passages) else citation.quote
        good += citation.doc_id in gold_docs or bool(answers and contains_answer(passage_text, answers))
    cited_docs = {c.doc_id for c in answer.citations}
    spans = [c.quote for c in answer.citations]
    return {
        "citation_precision": good / len(cited) if cited else None,
        "citation_recall": len(cited_docs & set(gold_docs)) / len(set(gold_docs)),
        # Span level: the cited span itself holds a gold answer (the answer's own sentence).
        "span_precision": sum(contains_answer(q, answers) for q in spans) / len(spans) if spans and answers else None,
    }


def claim_scores(answer: Answer) -> dict[str, float | None]:
    if answer.refused and not answer.citations:
        return {"claims_removed": float(len(answer.removed_claims)), "unsupported_shown": None}
    backing = " ".join(c.quote for c in answer.citations) or " ".join(p.text for p in answer.passages)
    held = vocabulary(f"{backing} {answer.question}")
    shown = facts(strip_marks(answer.answer), detect_language(answer.question), unmistakable_names=True)
    return {
        "claims_removed": float(len(answer.removed_claims)),
        "unsupported_shown": float(bool(shown.numbers - held.numbers or shown.names - held.names)),
    }


def score_question(question: Question, answer: Answer, ranked_docs: Sequence[str]) -> dict[str, float | None]:
    """All scores of one answer; `ranked_docs` comes from the separate deep retrieval call."""
    scores: dict[str, float | None] = dict.fromkeys(SCORE_NAMES)
    scores.update(claim_scores(answer))
    if not question.answerable:
        scores["correct_refusal"] = float(answer.refused)
        return scores
    gold = question.gold_doc_ids
    scores.update(retrieval_scores(ranked_docs, gold))
    context = [p.doc_id for p in answer.passages]
    scores["context_recall"] = recall_at(context, gold, len(context))
    scores["context_all_gold"] = all_gold_at(context, gold, len(context))
    answers = gold_answers(question)
    if answers:  # BEIR questions have gold documents but no answer strings
        text = strip_marks(answer.answer)  # "[2]" would otherwise count as the token "2"
        # EM and F1 judge the direct answer (a bare span for SQuAD-style gold answers);
        # `contained` gives a long answer credit for holding the gold answer anywhere.
        short = answer.short_answer or text
        scores["exact_match"] = exact_match(short, answers)
        scores["f1"] = token_f1(short, answers)
        scores["f1_whole"] = token_f1(text, answers)
        scores["contained"] = contains_answer(text, answers)
    scores.update(citation_scores(answer, gold, answers))
    scores["false_refusal"] = float(answer.refused)
    return scores


# --------------------------------------------------------------------------- over questions


def mean_scores(rows: Sequence[dict[str, float | None]]) -> dict[str, float | None]:
    """Each score averaged over the questions it applies to (None when it applies to none)."""
    means: dict[str, float | None] = {}
    for name in SCORE_NAMES:
        values = [value for row in rows if (value := row.get(name)) is not None]
        means[name] = round(sum(values) / len(values), 4) if values else None
    return means


def recall_curve(rankings: Sequence[tuple[Sequence[str], Sequence[str]]], depth: int = RANKING_DEPTH) -> list[float]:
    """Mean document recall@k for k = 1..depth over (ranked docs, gold docs) pairs."""
    pairs = [(ranked, gold) for ranked, gold in rankings if gold]
    if not pairs:
        return []
    return [round(sum(recall_at(r, g, k) for r, g in pairs) / len(pairs), 4) for k in range(1, depth + 1)]


def percentiles(values: Sequence[float], points: Sequence[int] = (50, 95)) -> dict[str, float]:
    """Nearest-rank percentiles: always a value that was measured."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {f"p{p}": ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] for p in points}


def paired_difference(
    pairs: Sequence[tuple[float, float]], resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of a - b over (a, b) pairs scored on the same questions, with a 95% bootstrap
    interval (a fixed seed, so the same runs always give the same interval)."""
    diffs = np.array([a - b for a, b in pairs], dtype=float)
    if not len(diffs):
        return 0.0, 0.0, 0.0
    samples = np.random.default_rng(seed).choice(diffs, size=(resamples, len(diffs))).mean(axis=1)
    low, high = np.percentile(samples, [2.5, 97.5])
    return round(float(diffs.mean()), 4), round(float(low), 4), round(float(high), 4)


def reliability(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> list[tuple[float, float, int, float, float]]:
    """Equal-width confidence bins: (low, high, answers, mean confidence, share right) for each non-empty bin."""
    rows = []
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = [(c, right) for c, right in pairs if low <= c < high or (b == bins - 1 and c == 1.0)]
        if inside:
            rows.append(
                (
                    low,
                    high,
                    len(inside),
                    sum(c for c, _ in inside) / len(inside),
                    sum(right for _, right in inside) / len(inside),
                )
            )
    return rows


RIGHT_F1 = 0.5  # a short answer this close to a gold answer counts as right though not contained


def is_right(answerable: bool, scores: dict[str, float | None]) -> bool:
    """Whether a given (not refused) answer is right: its question is answerable and a gold
    answer is in it or its F1 is at least RIGHT_F1. Calibration is measured against this."""
    return answerable and (scores.get("contained") == 1.0 or (scores.get("f1") or 0.0) >= RIGHT_F1)


def expected_calibration_error(pairs: Sequence[tuple[float, bool]], bins: int = 10) -> float:
    """The answers' share in each bin times the gap between its mean confidence and its share right, summed."""
    if not pairs:
        return 0.0
    return round(sum(n / len(pairs) * abs(mean - right) for _, _, n, mean, right in reliability(pairs, bins)), 4)
