"""The no-LLM backend: answer with the retrieved sentences that best answer the question.

Each sentence of the top passages is scored by its embedding similarity to the
question plus the share of the question's content words it contains; the best
few are returned, each cited with its own exact span. It cannot translate or
reason, but it never says anything the documents do not, runs in milliseconds,
and is the baseline the generative backends must beat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.answer import Citation
from rag.chunking import sentence_spans
from rag.citations import citation_for
from rag.embedders import Embedder
from rag.retrieval import Passage
from rag.spans import compares, mentions, new_names, short_answer, stem, stems

MAX_SENTENCES = 2
LIST_REACH = 8  # sentences after a list's announcement that may hold its items
_COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5}
_ASKED_COUNT = re.compile(rf"\b({'|'.join(_COUNTS)})\s+(?:\w+\s+)?(\w+)", re.IGNORECASE)
_ORDINAL = re.compile(r"\b(?:first|second|third|fourth|fifth|erste|zweite|dritte|vierte|fünfte|erstens|zweitens"
                      r"|drittens|viertens|fünftens)\w*", re.IGNORECASE)
ANSWER_POOL = 5
POOL_RATIO = 0.8
CHOICE_POOL = 10
SECOND_HOP_OPEN = 0.4  # share of the question's words the best sentence must leave open
SECOND_HOP_SHARE = 0.34  # share of those a second-hop sentence must hold
SIMILARITY_WEIGHT = 0.6  # the rest goes to word overlap
# A statement ends like one, and a list item or table row may end without; a headline
# ("Rutte – NATO's new secretary general") does not, and quoted as an answer it only
# repeats the question's topic.
_STATEMENT = re.compile(r"[.!?…][\"'”“’»«)\]]*$|^(?:[-*•+|]|\d+[.)])\s")


@dataclass(frozen=True)
class Extract:
    text: str
    citations: list[Citation]
    support: float  # score of the best sentence, 0..1: the refusal threshold applies to it
    short: str = ""  # the short answer within the best sentence, when one stands out
    compared: bool = False  # the short answer compares the dates of two options: see Span


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
    question_words = stems(question)
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
    support = max(s.score for s in scored)
    ranked = sorted(scored, key=lambda s: -s.score)
    ranked = [s for s in ranked if _STATEMENT.search(s.text)] or ranked
    # A weak runner-up adds noise, not support; the short answer may come from any strong one.
    pool = [s for s in ranked[:ANSWER_POOL] if s.score >= ranked[0].score * POOL_RATIO]
    if compares(question):
        pool = ranked[:CHOICE_POOL]  # each named thing's own sentence may rank low
    else:
        # A document the best sentence names is the likelier next hop than the runner-up
        # sentences; a sentence that merely names someone it brings in is a last resort.
        to_documents, to_names = second_hop(question, ranked, passages)
        pool = to_documents + [s for s in pool if s not in to_documents]
        pool += [s for s in to_names if s not in pool]
    listed = announced_list(question, pool, scored, passages)
    span = None if listed else short_answer(question, [s.text for s in pool], [passages[s.n - 1].title for s in pool])
    evidence = [pool[i] for i in span.evidence] if span else []
    quoted_sentences = listed or evidence + [s for s in pool if s not in evidence][:MAX_SENTENCES - len(evidence)]
    quoted = " ".join(f"{s.text} [{s.n}]" for s in quoted_sentences)
    citations = [citation_for(s.n, passages[s.n - 1], (s.start, s.end)) for s in quoted_sentences]
    short = span.text if span else ""
    return Extract(f"{short}\n{quoted}" if short else quoted, citations, round(support, 4), short,
                   bool(span and span.compared))


def announced_list(question: str, pool: list[ScoredSentence], scored: list[ScoredSentence],
                   passages: list[Passage]) -> list[ScoredSentence]:
    """For "What are Rutte's three priorities?": the sentence of the pool that announces that many
    ("I will work on three main priorities"), then the sentences after it that number the items
    ("The first is …", "Rutte said his second priority …", "… his third priority …").

    The items rarely repeat the question's words, so they score low, and the best two sentences
    are the announcement and something else. Empty unless every item is found."""
    asked = _ASKED_COUNT.search(question)
    if not asked:
        return []
    count, noun = _COUNTS[asked.group(1).lower()], stem(asked.group(2).lower())
    for announcing in pool:
        words = [w.lower() for w in re.findall(r"\w+", announcing.text)]
        if count not in {_COUNTS.get(w) for w in words} or noun not in {stem(w) for w in words}:
            continue
        doc_id = passages[announcing.n - 1].doc_id
        after = sorted({s.start: s for s in scored
                        if passages[s.n - 1].doc_id == doc_id and s.start >= announcing.end}.values(),
                       key=lambda s: s.start)[:LIST_REACH]
        items = [s for s in after if _ORDINAL.search(s.text)][:count]
        if len(items) == count:
            return [announcing, *items]
    return []


def second_hop(question: str, ranked: list[ScoredSentence],
               passages: list[Passage]) -> tuple[list[ScoredSentence], list[ScoredSentence]]:
    """Sentences that answer what the best sentence leaves open, about what it brings in:
    (those from documents it names, those that name a name it holds).

    "The director of Big Stone Gap is based in what city?": the best sentence names the
    director ("… directed by Adriana Trigiani"), and the answer is in her document, in a
    sentence that shares little with the question as a whole but most of its rest
    ("based in … New York City")."""
    first = ranked[0]
    first_doc = passages[first.n - 1]
    asked = stems(question)
    residual = asked - stems(first.text) - stems(first_doc.title)
    if len(residual) < len(asked) * SECOND_HOP_OPEN:
        return [], []  # the best sentence answers most of the question itself
    held = sorted(((len(residual & stems(s.text)), s) for s in ranked if s is not first), key=lambda pair: -pair[0])
    answering = [s for count, s in held if count >= len(residual) * SECOND_HOP_SHARE]
    named_docs = {n for n, p in enumerate(passages, start=1)
                  if p.doc_id != first_doc.doc_id and mentions(_bare_title(p.title), first.text)}
    bridges = new_names(question, first.text)
    to_documents = [s for s in answering if s.n in named_docs][:2]
    to_names = [s for s in answering if s not in to_documents and any(mentions(b, s.text) for b in bridges)][:2]
    return to_documents, to_names


def _bare_title(title: str) -> str:
    return re.sub(r"\s*\([^)]*\)", "", title)  # "Big Stone Gap (film)" names "Big Stone Gap"


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
    return len(question_words & stems(sentence)) / len(question_words)
