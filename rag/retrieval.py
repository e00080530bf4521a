"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates, fused by score.

The two fail on different questions: BM25 misses a German passage for an English
question, the embedder misses rare names and numbers. Candidates from both lists are
scored `cosine + weight * bm25 / best_bm25_in_that_language`.

How far to trust BM25 depends on language. When the question and every candidate
share one language, BM25 is a strong signal (on English HotpotQA it beats the
embedder) and gets `lexical_weight_monolingual`. When languages mix, the answer may
sit in a passage that shares no words with the question while same-language
near-misses share many, so BM25 only breaks near-ties (`lexical_weight`), and it is
normalised per document language so English near-misses cannot outvote a German
answer. Reciprocal rank fusion was measured too and lost on cross-lingual questions:
see docs/PERFORMANCE.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from index.store import Snapshot
from rag.answer import Passage
from rag.chunking import sentence_spans
from rag.claims import mentions, unmentioned_terms
from rag.embedders import Embedder
from rag.language import detect_language

Mode = Literal["hybrid", "dense", "lexical"]
MAX_NAMES = 2  # names of a question given evidence of their own when the search missed them
CLOSING = "\"'”’»)]"  # closing quotes and brackets: part of the sentence they end


@dataclass(frozen=True)
class RetrievalParams:
    k: int = 5
    candidates: int = 50
    lexical_weight: float = 0.1
    lexical_weight_monolingual: float = 0.8
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
    dense = snapshot.vectors.search(query_vector, params.candidates, allowed) if params.mode != "lexical" else []
    lexical = snapshot.lexical.search(query, params.candidates, allowed) if params.mode != "dense" else []
    if params.mode == "lexical":
        ranked = lexical
    else:
        ranked = fuse(snapshot, query_vector, dense, lexical, _lexical_weight(snapshot, query, dense, lexical, params))
    if params.mode == "hybrid":
        ranked = link_titles(snapshot, query, ranked, allowed)
    return [_passage(snapshot, position, score, query_vector) for position, score in ranked[: params.k]]


def with_following_text(snapshot: Snapshot, passages: list[Passage], chars: int) -> list[Passage]:
    """Each passage extended by the whole sentences that follow it in its document, up to
    `chars` characters: a chunk can end just where a list begins ("I will work on three
    main priorities." — the priorities open the next chunk), and the answer is then
    one sentence away. Spans stay exact document spans, so citations still point home."""
    extended = []
    for passage in passages:
        text = snapshot.documents[passage.doc_id].text
        window = text[passage.end : passage.end + chars]
        ends = [end for _, end in sentence_spans(window) if end < len(window) or passage.end + end == len(text)]
        end = passage.end + ends[-1] if ends else passage.end
        while end < len(text) and text[end] in CLOSING:
            end += 1  # the quote the last sentence closes
        extended.append(replace(passage, end=end, text=text[passage.start : end]))
    return extended


def distinct_passages(passages: list[Passage], k: int) -> list[Passage]:
    """The first `k` passages that are not mostly a repeat of one kept before them.

    Neighbouring chunks, once extended by the text that follows them, repeat each other,
    and a repeat takes the place of evidence from elsewhere."""
    kept: list[Passage] = []
    for passage in passages:
        repeated = sum(
            max(0, min(passage.end, m.end) - max(passage.start, m.start)) for m in kept if m.doc_id == passage.doc_id
        )
        if repeated * 2 < passage.end - passage.start:
            kept.append(passage)
        if len(kept) == k:
            break
    return kept


def fuse(
    snapshot: Snapshot,
    query_vector: np.ndarray,
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    lexical_weight: float,
) -> list[tuple[int, float]]:
    """Candidates of both lists scored cosine + weight * per-language-normalised BM25."""
    cosine = dict(dense)
    best_bm25: dict[str, float] = {}
    for position, score in lexical:
        lang = _lang(snapshot, position)
        best_bm25[lang] = max(best_bm25.get(lang, 0.0), score)
    fused = dict(cosine)
    for position, score in lexical:
        if position not in cosine:
            fused[position] = float(snapshot.vectors.vector(position) @ query_vector)
        fused[position] += lexical_weight * score / best_bm25[_lang(snapshot, position)]
    return sorted(fused.items(), key=lambda kv: -kv[1])


LINK_AFTER = 4  # linked documents go right after the first few results, which stay as ranked
LINK_FROM_PASSAGES = 2  # how many top passages may name a document to follow


def link_titles(
    snapshot: Snapshot, query: str, ranked: list[tuple[int, float]], allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    """Move up documents whose title the question or the top passages name.

    A multi-hop question names one document and needs another that only the first
    one names ("the director of Big Stone Gap" → Adriana Trigiani); a comparison
    names both. Neither embeddings nor BM25 follow that link; a title lookup does.
    On HotpotQA this lifts fused R@10 from 0.937 to 0.970 (docs/PERFORMANCE.md)."""
    titles = snapshot.titles()
    if not titles or not ranked:
        return ranked
    texts = [query] + [snapshot.text(snapshot.chunks[i]) for i, _ in ranked[:LINK_FROM_PASSAGES]]
    linked = list(dict.fromkeys(doc for text in texts for gram in _ngrams(text) for doc in titles.get(gram, [])))
    head = ranked[:LINK_AFTER]
    present = {snapshot.chunks[i].doc_id for i, _ in head}
    best_chunk: dict[str, tuple[int, float]] = {}
    for position, score in ranked:
        best_chunk.setdefault(snapshot.chunks[position].doc_id, (position, score))
    allowed_set = None if allowed is None else {int(a) for a in allowed}
    moved = []
    for doc_id in linked:
        position, _ = best_chunk.get(doc_id, (snapshot.first_chunk(doc_id), 0.0))
        if doc_id not in present and (allowed_set is None or position in allowed_set):
            moved.append(position)
            present.add(doc_id)
    if not moved:
        return ranked
    floor = head[-1][1]  # linked passages rank just below the head, keeping scores in order
    rest = [(i, s) for i, s in ranked[LINK_AFTER:] if i not in set(moved)]
    return head + [(i, floor) for i in moved] + [(i, min(s, floor)) for i, s in rest]


def _ngrams(text: str, longest: int = 6) -> list[str]:
    """Word n-grams in text order: a set's order would change with each process's string hashing,
    and with it which linked documents rank first."""
    words = re.findall(r"[\w'’.-]+", text.lower())
    grams = (" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(len(words), i + longest) + 1))
    return list(dict.fromkeys(grams))


def _lexical_weight(
    snapshot: Snapshot,
    query: str,
    dense: list[tuple[int, float]],
    lexical: list[tuple[int, float]],
    params: RetrievalParams,
) -> float:
    languages = {_lang(snapshot, position) for position, _ in dense + lexical}
    if languages == {detect_language(query)}:
        return params.lexical_weight_monolingual
    return params.lexical_weight


def _lang(snapshot: Snapshot, position: int) -> str:
    return snapshot.documents[snapshot.chunks[position].doc_id].lang


def _passage(snapshot: Snapshot, position: int, score: float, query_vector: np.ndarray) -> Passage:
    chunk = snapshot.chunks[position]
    doc = snapshot.documents[chunk.doc_id]
    similarity = float(snapshot.vectors.vector(position) @ query_vector)
    return Passage.of(doc, chunk.chunk_id, chunk.start, chunk.end, score, similarity)


def naming_every_name(question: str, ranked: list[Passage], k: int) -> list[Passage]:
    """The first `k` distinct passages, with the lowest ones given up, where needed, for the
    best passage that mentions a name or number of the question that none of the others does: a
    question about two things needs evidence on both, however low the second ranks."""
    kept = distinct_passages(ranked, k)
    text = " ".join(f"{p.title} {p.text}" for p in kept)
    extra: list[Passage] = []
    for name in unmentioned_terms(question, detect_language(question), text)[:MAX_NAMES]:
        extra += [p for p in ranked if p not in kept and p not in extra and mentions(f"{p.title} {p.text}")(name)][:1]
    return kept[: max(1, k - len(extra))] + extra[: k - 1]
