"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates fused by reciprocal rank.

The two fail on different questions: BM25 misses a German passage for an English
question, the embedder misses rare names and numbers. Reciprocal rank fusion
(Cormack et al. 2009) needs no score calibration between them: each list votes
1 / (rrf_k + rank). Figures for each mode are in docs/PERFORMANCE.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Literal

import numpy as np

from index.store import Snapshot
from rag.embedders import Embedder

Mode = Literal["hybrid", "dense", "lexical"]


@dataclass(frozen=True)
class Passage:
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


@dataclass(frozen=True)
class RetrievalParams:
    k: int = 5
    candidates: int = 50
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    mode: Mode = "hybrid"


def retrieve(
    snapshot: Snapshot,
    embedder: Embedder,
    query: str,
    params: RetrievalParams = RetrievalParams(),
    doc_ids: Iterable[str] | None = None,
    langs: Iterable[str] | None = None,
) -> list[Passage]:
    """The `params.k` best passages for `query`, optionally only from some documents or languages."""
    allowed = snapshot.positions(doc_ids, langs)
    if allowed is not None and len(allowed) == 0:
        return []
    query_vector = embedder.embed_query_array(query)
    ranked_lists: list[tuple[float, list[int]]] = []
    if params.mode in ("hybrid", "dense"):
        dense = snapshot.vectors.search(query_vector, params.candidates, allowed)
        ranked_lists.append((params.dense_weight, [i for i, _ in dense]))
    if params.mode in ("hybrid", "lexical"):
        lexical = snapshot.lexical.search(query, params.candidates, allowed)
        ranked_lists.append((params.lexical_weight, [i for i, _ in lexical]))
    fused = reciprocal_rank_fusion(ranked_lists, params.rrf_k)[: params.k]
    return [_passage(snapshot, position, score, query_vector) for position, score in fused]


def reciprocal_rank_fusion(ranked_lists: list[tuple[float, list[int]]], rrf_k: int) -> list[tuple[int, float]]:
    """Fuse (weight, ranked ids) lists into one ranking; ties keep first-seen order."""
    scores: dict[int, float] = {}
    for weight, ids in ranked_lists:
        for rank, item in enumerate(ids, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (rrf_k + rank)
    return sorted(scores.items(), key=lambda kv: -kv[1])


def _passage(snapshot: Snapshot, position: int, score: float, query_vector: np.ndarray) -> Passage:
    chunk = snapshot.chunks[position]
    doc = snapshot.documents[chunk.doc_id]
    similarity = float(snapshot.vectors.vector(position) @ query_vector)
    return Passage(
        chunk_id=chunk.chunk_id,
        doc_id=doc.doc_id,
        title=doc.title,
        source=doc.source,
        lang=doc.lang,
        start=chunk.start,
        end=chunk.end,
        text=doc.text[chunk.start : chunk.end],
        score=round(score, 6),
        similarity=round(similarity, 4),
    )
