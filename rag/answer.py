"""The values that cross module lines on the answer path: the `Passage` retrieval finds, and
the one `Answer` that the CLI, the UI, the REST API and the evaluator all show.

Nothing downstream recomputes anything: if a screen needs a figure, it belongs here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from index.records import Document
from rag.sources import display_source


@dataclass(frozen=True)
class Passage:
    """A retrieved span of a document, as retrieval ranked it."""

    chunk_id: str
    doc_id: str
    title: str
    source: str
    lang: str
    start: int
    end: int
    text: str
    score: float  # the fused score that ranked it
    similarity: float  # cosine between question and passage, comparable across questions

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, doc: Document, chunk_id: str, start: int, end: int, score: float, similarity: float) -> Passage:
        """The span [start, end) of a document, as retrieval ranked it; its source as readers may
        see it (no path on the server: answers reach visitors)."""
        return cls(
            chunk_id, doc.doc_id, doc.title, display_source(doc.source, doc.doc_id), doc.lang, start, end,
            doc.text[start:end],
            round(score, 6), round(similarity, 4),
        )  # fmt: skip


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] mark in the answer text: 1, 2, 3 … in order of first use
    doc_id: str
    title: str
    source: str
    start: int  # character span of the cited passage in its document
    end: int
    quote: str  # exactly the cited span: the sentence (or run of sentences) a claim rests on
    chunk_id: str = ""


@dataclass(frozen=True)
class RemovedClaim:
    """A sentence of a generated answer that verification withheld, and why."""

    text: str
    reason: str


@dataclass(frozen=True)
class EvidenceFound:
    """Streamed before the answer: the evidence the answer will be written from."""

    citations: list[Citation]  # one per evidence block, numbered as the prompt numbers them


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    citations: list[Citation]
    passages: list[Passage]  # the passages the evidence came from; citations name their chunk
    refused: bool
    confidence: float  # 0..1: the probability that the answer is right (rag/confidence.py)
    backend: str  # which backend answered: local:<model>, openai:<model>, extractive
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    standalone_question: str = ""  # the question after condensing a follow-up
    tokens: dict[str, int] = field(default_factory=dict)  # prompt / completion
    dropped_citations: int = 0  # [n] marks that pointed at no evidence and were removed
    # The direct answer (a name, number or phrase) the answer text opens with, without
    # marks; "" when the backend gave none. Evaluators score EM and F1 on it.
    short_answer: str = ""
    # Claims verification withheld (a number, date or name the cited evidence does not hold,
    # or a meaning too far from it): never shown, counted by the evaluator.
    removed_claims: list[RemovedClaim] = field(default_factory=list)
    raw_reply: str = ""  # the generator's reply before verification, for the evaluator to check again
    support: float = 0.0  # the best evidence sentence's score, which the gate holds against min_relevance
    judged: float | None = None  # the judge's probability that the cited text answers the question (rag/judge.py)
    refusal_reason: str = ""  # why the answer was refused or withheld, for the evaluator and the logs

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        data = dict(data)
        data["citations"] = [Citation(**c) for c in data["citations"]]
        data["passages"] = [Passage(**p) for p in data["passages"]]
        data["removed_claims"] = [RemovedClaim(**c) for c in data.get("removed_claims", [])]
        return cls(**data)
