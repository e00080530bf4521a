"""Hybrid retrieval: dense and lexical (BM25) candidates from the store, fused by score.

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

Every step asks the store (`index.base.VectorStore`) by chunk id, so the ranking is the same
whichever store holds the chunks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from index.base import Filter, Hit, VectorStore
from rag.answer import Passage
from rag.chunking import sentence_spans
from rag.claims import mentions, unmentioned_terms
from rag.embedders import Embedder
from rag.language import detect_language
from rag.sources import display_source

Mode = Literal["hybrid", "dense", "lexical"]
MAX_NAMES = 2  # names of a question given evidence of their own when the search missed them
CLOSING = "\"'”’»)]"  # closing quotes and brackets: part of the sentence they end
CLOSING_RUN = 8  # how many closing characters past the window a passage may take in
MIN_TITLE = 4  # characters of a title that may name a document: shorter ones are ordinary words
MAX_TITLED = 2  # a title that more documents carry (every paragraph of one article) names none of them
Ranked = list[tuple[str, float]]  # (chunk id, score), best first


@dataclass(frozen=True)
class RetrievalParams:
    k: int = 5
    candidates: int = 50
    lexical_weight: float = 0.1
    lexical_weight_monolingual: float = 0.8
    mode: Mode = "hybrid"


def retrieve(
    store: VectorStore,
    embedder: Embedder,
    query: str,
    params: RetrievalParams = RetrievalParams(),
    doc_ids: Iterable[str] | None = None,
    langs: Iterable[str] | None = None,
) -> list[Passage]:
    """The `params.k` best passages for `query`, optionally only from some documents or languages."""
    where = Filter.of(doc_ids, langs)
    query_vector = embedder.embed_query_array(query)
    dense = store.dense_search(query_vector, params.candidates, where) if params.mode != "lexical" else []
    lexical = store.lexical_search(query, params.candidates, where) if params.mode != "dense" else []
    hits = {hit.chunk.chunk_id: hit for hit in dense + lexical}
    if params.mode == "lexical":
        ranked = [(hit.chunk.chunk_id, hit.score) for hit in lexical]
    else:
        weight = _lexical_weight(query, dense + lexical, params)
        ranked = fuse(store, query_vector, dense, lexical, weight)
    if params.mode == "hybrid":
        ranked = link_titles(store, query, ranked, hits, where)
    top = ranked[: params.k]
    vectors = store.vectors([chunk_id for chunk_id, _ in top])
    return [
        _passage(hits[chunk_id], score, float(vectors[chunk_id] @ query_vector))
        for chunk_id, score in top
        if chunk_id in vectors  # a chunk another writer removed since the search
    ]


def with_following_text(store: VectorStore, passages: list[Passage], chars: int) -> list[Passage]:
    """Each passage extended by the whole sentences that follow it in its document, up to
    `chars` characters: a chunk can end just where a list begins ("I will work on three
    main priorities." — the priorities open the next chunk), and the answer is then
    one sentence away. Spans stay exact document spans, so citations still point home."""
    asked = chars + CLOSING_RUN
    extended = []
    for passage, after in zip(passages, store.text_after([(p.doc_id, p.end) for p in passages], asked), strict=True):
        window = after[:chars]
        document_ends = len(after) < asked  # `after` runs to the end of the document
        ends = [
            end
            for _, end in sentence_spans(window, passage.lang)
            if end < len(window) or (document_ends and end == len(after))
        ]
        end = ends[-1] if ends else 0
        while end < len(after) and after[end] in CLOSING:
            end += 1  # the quote the last sentence closes
        extended.append(replace(passage, end=passage.end + end, text=passage.text + after[:end]))
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
    store: VectorStore, query_vector: np.ndarray, dense: list[Hit], lexical: list[Hit], lexical_weight: float
) -> Ranked:
    """Candidates of both lists scored cosine + weight * per-language-normalised BM25."""
    fused = {hit.chunk.chunk_id: hit.score for hit in dense}
    best_bm25: dict[str, float] = {}
    for hit in lexical:
        best_bm25[hit.document.lang] = max(best_bm25.get(hit.document.lang, 0.0), hit.score)
    missing = store.vectors([hit.chunk.chunk_id for hit in lexical if hit.chunk.chunk_id not in fused])
    for hit in lexical:
        chunk_id = hit.chunk.chunk_id
        if chunk_id not in fused:
            if chunk_id not in missing:
                continue  # removed by another writer since the search
            fused[chunk_id] = float(missing[chunk_id] @ query_vector)
        fused[chunk_id] += lexical_weight * hit.score / best_bm25[hit.document.lang]
    return sorted(fused.items(), key=lambda kv: -kv[1])


LINK_AFTER = 4  # linked documents go right after the first few results, which stay as ranked
LINK_FROM_PASSAGES = 2  # how many top passages may name a document to follow


def link_titles(store: VectorStore, query: str, ranked: Ranked, hits: dict[str, Hit], where: Filter | None) -> Ranked:
    """Move up documents whose title the question or the top passages name.

    A multi-hop question names one document and needs another that only the first
    one names ("the director of Big Stone Gap" → Adriana Trigiani); a comparison
    names both. Neither embeddings nor BM25 follow that link; a title lookup does.
    On HotpotQA this lifts fused R@10 from 0.937 to 0.970 (docs/PERFORMANCE.md).

    `hits` holds every ranked chunk; it gains the first chunks of linked documents."""
    if not ranked:
        return ranked
    grams = [_ngrams(text) for text in [query] + [hits[i].text for i, _ in ranked[:LINK_FROM_PASSAGES]]]
    titled = store.titled({gram for text in grams for gram in text if len(gram) >= MIN_TITLE})
    titles = {title: found for title, found in titled.items() if len(found) <= MAX_TITLED}
    linked: dict[str, Hit] = {}  # doc id → its first chunk, in the order the texts name them
    for hit in (hit for text in grams for gram in text for hit in titles.get(gram, [])):
        linked.setdefault(hit.document.doc_id, hit)
    head = ranked[:LINK_AFTER]
    present = {hits[i].document.doc_id for i, _ in head}
    best_chunk: dict[str, str] = {}
    for chunk_id, _ in ranked:
        best_chunk.setdefault(hits[chunk_id].document.doc_id, chunk_id)
    moved = []
    for doc_id, first in linked.items():
        chunk_id = best_chunk.get(doc_id, first.chunk.chunk_id)
        if doc_id not in present and (where is None or where.admits(first.document)):
            hits.setdefault(chunk_id, first)
            moved.append(chunk_id)
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


def _lexical_weight(query: str, candidates: list[Hit], params: RetrievalParams) -> float:
    if {hit.document.lang for hit in candidates} == {detect_language(query)}:
        return params.lexical_weight_monolingual
    return params.lexical_weight


def _passage(hit: Hit, score: float, similarity: float) -> Passage:
    """The chunk as retrieval ranked it; its source as readers may see it (no path on the server)."""
    doc, chunk = hit.document, hit.chunk
    return Passage(
        chunk.chunk_id, doc.doc_id, doc.title, display_source(doc.source, doc.doc_id), doc.lang, chunk.start, chunk.end,
        hit.text, round(score, 6), round(similarity, 4),
    )  # fmt: skip


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
