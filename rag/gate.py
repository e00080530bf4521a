"""The gate: whether the evidence can answer the question at all, before any model runs.

Three signals, all read from the evidence step: how well the best sentence supports the
question; whether the evidence mentions every name, number and month the question asks
about ("When did Rutte visit Canberra?" over passages that never name Canberra);
and, for a question that asks how many, how much or when, whether any evidence states a
number or date besides the question's own. A refusal here costs no LLM call.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.claims import asked_kind, facts, is_kind, unmentioned
from rag.evidence import Block, EvidenceSet
from rag.language import detect_language


@dataclass(frozen=True)
class Decision:
    answer: bool
    reason: str = ""


def gate(evidence: EvidenceSet, blocks: list[Block], min_relevance: float) -> Decision:
    lang = detect_language(evidence.question)
    text = " ".join([s.text for s in evidence.sentences] + [p.title for p in evidence.passages])
    absent = unmentioned(evidence.question, lang, text, same_language=all(p.lang == lang for p in evidence.passages))
    if absent:
        return Decision(False, f"no evidence mentions {', '.join(absent)}")
    if not blocks or evidence.support < min_relevance:
        return Decision(False, f"no evidence supports the question (best {evidence.support:.2f} < {min_relevance:.2f})")
    kind = asked_kind(evidence.question)
    if kind in ("number", "date"):
        asked = facts(evidence.question)
        shown = [evidence.sentences[i].text for b in blocks for i in b.sentences]
        if not any(
            is_kind(kind, text) and (facts(text).numbers - asked.numbers or facts(text).months - asked.months)
            for text in shown
        ):
            return Decision(False, f"no evidence states a {kind}")
    return Decision(True)
