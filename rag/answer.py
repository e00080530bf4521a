"""The one answer value that the CLI, the UI, the REST API and the evaluator all show.

Nothing downstream recomputes anything: if a screen needs a figure, it belongs here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rag.retrieval import Passage


@dataclass(frozen=True)
class Citation:
    n: int  # the [n] mark in the answer text; passages are numbered from 1
    doc_id: str
    title: str
    source: str
    start: int  # character span of the cited passage in its document
    end: int
    quote: str  # the passage text (or the cited sentence, for the extractive backend)
    chunk_id: str = ""


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    citations: list[Citation]
    passages: list[Passage]  # numbered as in the prompt: passages[n - 1] is [n]
    refused: bool
    confidence: float  # 0..1
    backend: str  # which backend answered: local:<model>, openai:<model>, extractive
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    standalone_question: str = ""  # the question after condensing a follow-up
    tokens: dict[str, int] = field(default_factory=dict)  # prompt / completion
    dropped_citations: int = 0  # [n] marks that pointed at no passage and were removed
    # The direct answer (a name, number or phrase) the answer text opens with, without
    # marks; "" when the backend gave none. Evaluators score EM and F1 on it.
    short_answer: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        data = dict(data)
        data["citations"] = [Citation(**c) for c in data["citations"]]
        data["passages"] = [Passage(**p) for p in data["passages"]]
        return cls(**data)
