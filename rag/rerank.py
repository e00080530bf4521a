"""Answer passages reranked by their best sentence.

A chunk's embedding blurs its sentences together, so a chunk about something else
that holds the one answering sentence ranks low: for "For how many years did the man
who said NATO is in 'safe hands' under Rutte lead the alliance?", the chunk that says
Rutte is "replacing Jens Stoltenberg, who led the alliance for the past ten years"
ranks 16th. Scored sentence by sentence, the way the answerer scores them (similarity
plus the question's words they hold), it holds one of the best sentences.

A passage's new score is its retrieval score plus the score of its best sentence:
retrieval still counts, so a passage is not lifted by one lucky sentence alone.
"""

from __future__ import annotations

from dataclasses import replace

from rag.embedders import Embedder
from rag.extractive import ScoredSentence, score_sentences
from rag.retrieval import Passage

RERANK_DEPTH = 20  # passages reranked: demo F1 0.458 at 10 or 15, 0.476 at 20 or 30 ("ten years" ranks 16th)


def rerank(question: str, passages: list[Passage], embedder: Embedder) -> list[Passage]:
    """The passages ordered by retrieval score plus best-sentence score (which becomes their score)."""
    scored = score_sentences(question, passages, embedder)  # each sentence once, though passages overlap
    rescored = [replace(p, score=p.score + _best_sentence(p, scored, passages)) for p in passages]
    return sorted(rescored, key=lambda p: -p.score)


def _best_sentence(passage: Passage, scored: list[ScoredSentence], passages: list[Passage]) -> float:
    """The score of the best sentence within the passage, wherever it was scored: a passage
    overlapping a better-ranked one holds sentences that were scored as the other's."""
    return max((s.score for s in scored if passages[s.n - 1].doc_id == passage.doc_id
                and passage.start <= s.start and s.end <= passage.end), default=0.0)
