"""The no-LLM backend: answer with the retrieved sentences that best answer the question.

Each sentence of the top passages is scored by its embedding similarity to the
question plus the share of the question's content words it contains; the best
few are returned, each cited with its own exact span. It cannot translate or
reason, but it never says anything the documents do not, runs in milliseconds,
and is the baseline the generative backends must beat.
"""

from __future__ import annotations

from dataclasses import dataclass

from index.lexical import tokenize
from rag.answer import Citation
from rag.chunking import sentence_spans
from rag.citations import citation_for
from rag.embedders import Embedder
from rag.retrieval import Passage
from rag.spans import short_span, stem

MAX_SENTENCES = 2
SIMILARITY_WEIGHT = 0.6  # the rest goes to word overlap


@dataclass(frozen=True)
class Extract:
    text: str
    citations: list[Citation]
    support: float  # score of the best sentence, 0..1: the refusal threshold applies to it
    short: str = ""  # the short answer within the best sentence, when one stands out


@dataclass(frozen=True)
class ScoredSentence:
    n: int  # number of the passage it comes from (passages[n - 1])
    start: int  # offsets in the document
    end: int
    text: str
    score: float  # 0..1: how well it answers the question


def score_sentences(question: str, passages: list[Passage], embedder: Embedder) -> list[ScoredSentence]:
    """Every sentence of the passages (each once: chunks overlap), scored against the question."""
    sentences = _sentences(passages)
    if not sentences:
        return []
    vectors = embedder.embed_documents_array([text for _, _, _, text in sentences])
    similarity = vectors @ embedder.embed_query_array(question)
    question_words = {stem(w) for w in tokenize(question)}
    return [
        ScoredSentence(n, start, end, text,
                       SIMILARITY_WEIGHT * float(sim) + (1 - SIMILARITY_WEIGHT) * _overlap(question_words, text))
        for (n, start, end, text), sim in zip(sentences, similarity)
    ]


def extract_answer(question: str, scored: list[ScoredSentence], passages: list[Passage]) -> Extract:
    """The best one or two sentences, each cited with its exact span, under the short
    answer that the first of them holds (a date, number or name), when there is one."""
    if not scored:
        return Extract("", [], 0.0)
    best = sorted(scored, key=lambda s: -s.score)[:MAX_SENTENCES]
    best = [s for s in best if s.score >= best[0].score * 0.8]  # a weak runner-up adds noise, not support
    short = next((span for span in (short_span(question, s.text) for s in best) if span), "")
    quoted = " ".join(f"{s.text} [{s.n}]" for s in best)
    citations = [citation_for(s.n, passages[s.n - 1], (s.start, s.end)) for s in best]
    return Extract(f"{short}\n{quoted}" if short else quoted, citations, round(best[0].score, 4), short)


def _sentences(passages: list[Passage]) -> list[tuple[int, int, int, str]]:
    """(passage number, start, end, text) of each sentence, each once."""
    seen: set[tuple[str, int]] = set()
    out = []
    for n, passage in enumerate(passages, start=1):
        for start, end in sentence_spans(passage.text):
            key = (passage.doc_id, passage.start + start)
            if key in seen or end - start < 20:
                continue
            seen.add(key)
            out.append((n, passage.start + start, passage.start + end, passage.text[start:end]))
    return out


def _overlap(question_words: set[str], sentence: str) -> float:
    if not question_words:
        return 0.0
    words = {stem(w) for w in tokenize(sentence)}
    return len(question_words & words) / len(question_words)
