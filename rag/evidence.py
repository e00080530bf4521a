"""The evidence step: every sentence of the answer passages, scored once against the question.

Each sentence is embedded once and scored `0.6 x cosine + 0.4 x share of the question's
content words it holds` (`0.9 x cosine` in another language than the question's); the
rerank, the gate, the prompt, the extractive quoter and the verifier all read these scores
and vectors instead of embedding again.

The prompt shows evidence *blocks*: the best sentences, each with the sentence after it
(lists and explanations continue there), adjacent ones of a document joined, until a
token budget. A block keeps an announcing sentence with the items it announces; the
[n] of a block is narrowed to the sentence a claim rests on after generation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from index.lexical import tokenize
from rag.answer import Passage
from rag.chunking import count_tokens, sentence_spans
from rag.embedders import Embedder
from rag.instructions import addresses_assistant
from rag.language import detect_language
from rag.retrieval import CLOSING

SIMILARITY_WEIGHT = 0.6  # the rest goes to word overlap
# A sentence in another language than the question scores by similarity alone, times this.
# 1.0 found one more answer on the tune halves of XQuAD and the demo set than 0.9 (and 0.8 two
# fewer; docs/benchmarks.md), but let an unrelated German sentence clear the gate for an English
# question the documents do not answer: the gate was set on the mixed score, which 0.9 x stays under.
CROSS_LINGUAL_WEIGHT = 0.9
MIN_SENTENCE_CHARS = 20  # shorter pieces are headings or list numbers, not evidence
GAP_SENTENCES = 3  # chosen sentences this close in one document share a block, with what lies between


@dataclass(frozen=True)
class Sentence:
    """One sentence of a passage, as an exact span of its document."""

    passage: int  # index into the passages (0-based)
    doc_id: str
    start: int
    end: int
    text: str
    score: float  # 0..1: how well it answers the question


@dataclass(frozen=True)
class Block:
    """A numbered run of adjacent sentences of one document, as the prompt shows it."""

    n: int
    sentences: tuple[int, ...]  # indices into EvidenceSet.sentences, in document order


@dataclass(frozen=True)
class EvidenceSet:
    question: str
    passages: list[Passage]
    sentences: list[Sentence]
    vectors: np.ndarray  # one row per sentence, unit length
    query: np.ndarray
    embedder: Embedder = field(repr=False, compare=False)

    @property
    def support(self) -> float:
        """The best sentence's score: how well anything found answers the question."""
        return max((s.score for s in self.sentences), default=0.0)

    def ranked(self) -> list[int]:
        return sorted(range(len(self.sentences)), key=lambda i: -self.sentences[i].score)

    def following(self, i: int) -> int | None:
        """The next sentence of the same document, wherever it was found."""
        order = self._document_order(self.sentences[i].doc_id)
        at = order.index(i)
        return order[at + 1] if at + 1 < len(order) else None

    def _document_order(self, doc_id: str) -> list[int]:
        return sorted(
            (j for j, s in enumerate(self.sentences) if s.doc_id == doc_id), key=lambda j: self.sentences[j].start
        )

    def blocks(self, budget: int) -> list[Block]:
        """The best sentences with their next ones, joined per document, until `budget` tokens.

        Numbered best block first; sentences inside a block keep document order."""
        chosen: list[int] = []
        used = 0
        for i in self.ranked():
            for candidate in (i, self.following(i)):
                if candidate is None or candidate in chosen:
                    continue
                tokens = count_tokens(self.sentences[candidate].text) + 1
                if chosen and used + tokens > budget:
                    return self._group(chosen)
                chosen.append(candidate)
                used += tokens
        return self._group(chosen)

    def _group(self, chosen: list[int]) -> list[Block]:
        runs: list[list[int]] = []
        for doc_id in dict.fromkeys(self.sentences[i].doc_id for i in chosen):
            order = self._document_order(doc_id)
            positions = sorted(order.index(i) for i in chosen if self.sentences[i].doc_id == doc_id)
            run = [positions[0]]
            for pos in positions[1:]:
                if pos - run[-1] <= GAP_SENTENCES + 1:
                    run.extend(range(run[-1] + 1, pos + 1))  # what lies between belongs to the list
                else:
                    runs.append([order[p] for p in run])
                    run = [pos]
            runs.append([order[p] for p in run])
        runs.sort(key=lambda run: -max(self.sentences[i].score for i in run))
        return [Block(n, tuple(run)) for n, run in enumerate(runs, start=1)]

    def coverage(self, indices: Sequence[int]) -> float:
        """How much of the question the sentences hold, each question word weighted by how rare
        it is among all the evidence: the topic's words ("election", "NATO") are everywhere and
        say little; the word that asks ("won") weighs most, and no sentence holds it when the
        documents do not tell."""
        asked = stems(self.question)
        if not asked:
            return 0.0
        held = [stems(s.text) for s in self.sentences]
        weight = {w: math.log(1 + (len(held) + 1) / (1 + sum(w in h for h in held))) for w in asked}
        covered = set().union(*(held[i] for i in indices)) if indices else set()
        return sum(weight[w] for w in asked & covered) / sum(weight.values())

    def around(self, i: int, blocks: Sequence[Block]) -> tuple[int, ...]:
        """The block that shows sentence i (just the sentence when none does)."""
        return next((b.sentences for b in blocks if i in b.sentences), (i,))

    def context(self, i: int, blocks: Sequence[Block]) -> tuple[int, ...]:
        """Sentence i with the sentence before it in its block, which often names what it is
        about: "Its chair is Maria Ortiz." follows the sentence naming the cooperative."""
        block = self.around(i, blocks)
        at = block.index(i)
        return block[max(0, at - 1) : at + 1]

    def span(self, indices: Sequence[int]) -> tuple[Passage, tuple[int, int]]:
        """The document span of a run of sentences, with a passage that holds all of it. A run
        may reach into the next chunk of its document: overlapping or adjoining chunks are
        joined; where a chunk between them was not found, the span ends with the first chunk."""
        first, last = self.sentences[indices[0]], self.sentences[indices[-1]]
        passage = self.passages[first.passage]
        for following in sorted(
            {self.sentences[i].passage for i in indices} - {first.passage}, key=lambda p: self.passages[p].start
        ):
            nxt = self.passages[following]
            if nxt.start > passage.end or nxt.end <= passage.end:
                continue
            passage = replace(passage, end=nxt.end, text=passage.text + nxt.text[passage.end - nxt.start :])
        return passage, (first.start, min(last.end, passage.end))

    def text(self, indices: Sequence[int]) -> str:
        return " ".join(self.sentences[i].text for i in indices)

    def similarity(self, texts: list[str]) -> np.ndarray:
        """Cosine of each text with each sentence: shape (len(texts), len(sentences))."""
        if not texts or not self.sentences:
            return np.zeros((len(texts), len(self.sentences)), dtype=np.float32)
        return self.embedder.embed_documents_array(texts) @ self.vectors.T


def gather(question: str, passages: list[Passage], embedder: Embedder) -> EvidenceSet:
    """Every sentence of the passages (each once: passages overlap), scored against the question."""
    pieces = _sentences(passages)
    query = embedder.embed_query_array(question)
    if not pieces:
        return EvidenceSet(question, passages, [], np.zeros((0, len(query)), dtype=np.float32), query, embedder)
    vectors = embedder.embed_documents_array([text for *_, text in pieces])
    similarity = vectors @ query
    asked = stems(question)
    lang = detect_language(question)
    sentences = [
        Sentence(p, doc_id, start, end, text, _score(float(sim), asked, text, lang, passages[p].lang))
        for (p, doc_id, start, end, text), sim in zip(pieces, similarity, strict=True)
    ]
    return EvidenceSet(question, passages, sentences, vectors, query, embedder)


def _score(similarity: float, asked: set[str], text: str, question_lang: str, text_lang: str) -> float:
    """How well a sentence answers the question. Across languages the question's words cannot
    be found in the sentence, and the word-overlap part would rank a German sentence that
    answers an English question under English ones that only share its topic; there the
    similarity, which the multilingual embedder keeps comparable across languages, stands for
    both parts, slightly discounted (CROSS_LINGUAL_WEIGHT)."""
    if "und" not in (question_lang, text_lang) and text_lang and question_lang != text_lang:
        return CROSS_LINGUAL_WEIGHT * similarity
    return SIMILARITY_WEIGHT * similarity + (1 - SIMILARITY_WEIGHT) * overlap(asked, text)


def restrict(evidence: EvidenceSet, passages: list[Passage]) -> EvidenceSet:
    """The evidence of a subset of the passages, scores and vectors kept: the rerank scores the
    sentences of 20 candidate passages, and the answer reads those of the 5 it keeps."""
    keep, sentences = [], []
    for i, s in enumerate(evidence.sentences):
        for k, p in enumerate(passages):
            if p.doc_id == s.doc_id and p.start <= s.start and s.end <= p.end:
                keep.append(i)
                sentences.append(Sentence(k, s.doc_id, s.start, s.end, s.text, s.score))
                break
    return EvidenceSet(
        evidence.question, passages, sentences, evidence.vectors[keep], evidence.query, evidence.embedder
    )


def stems(text: str) -> set[str]:
    """Crude, language-neutral stems of the content words: "priorities" and "priority" share "priori".
    Snowball stems per language (PyStemmer) were measured in their place and did no better:
    HotpotQA *contained* fell by two questions on each half, the rest moved by a question or
    none (docs/benchmarks.md)."""
    return {(w[:-1] if len(w) > 4 and w.endswith("s") else w)[:6] for w in tokenize(text)}


def overlap(asked: set[str], sentence: str) -> float:
    return len(asked & stems(sentence)) / len(asked) if asked else 0.0


def _sentences(passages: list[Passage]) -> list[tuple[int, str, int, int, str]]:
    """(passage index, document, start, end, text) of each sentence, each once."""
    seen: set[tuple[str, int]] = set()
    out = []
    for k, passage in enumerate(passages):
        for start, end in sentence_spans(passage.text, passage.lang):
            while end < len(passage.text) and passage.text[end] in CLOSING:
                end += 1  # the quote a sentence closes is part of it
            key = (passage.doc_id, passage.start + start)
            if key in seen or end - start < MIN_SENTENCE_CHARS or addresses_assistant(passage.text[start:end]):
                continue  # an order to the assistant is no evidence (rag/instructions.py)
            seen.add(key)
            out.append((k, passage.doc_id, passage.start + start, passage.start + end, passage.text[start:end]))
    return out
