"""The pipelines a run compares: ours and the baselines, all answering the same questions.

- `ours`: `Engine.ask`, exactly what the chat does (hybrid retrieval).
- `bm25`, `dense`: the same answer chain (condensing, refusal gate, answerer,
  citation check), with retrieval swapped for the engine's lexical-only or
  dense-only search. Only retrieval differs from `ours`, which also reranks its
  answer passages by their best sentence (`rag/rerank.py`); the baselines do not.
- `langchain-baseline`: the recipe most teams start from.
  RecursiveCharacterTextSplitter (1000 characters, 200 overlap), FAISS similarity
  top-4 over the same embedder, then the "stuff" prompt with the same LLM. It has no
  follow-up handling: it retrieves for the question as asked. With the extractive
  backend the answerer is ours, run over the baseline's passages, so that
  comparison isolates chunking and retrieval.

Every pipeline also gives a deep document ranking (`ranking`) for the retrieval scores.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Protocol

import faiss
import numpy as np
from langchain_core.prompts import ChatPromptTemplate
from langchain_text_splitters import RecursiveCharacterTextSplitter

from eval.benchmark import Question
from eval.metrics import RANKING_DEPTH, unique_in_order
from index.files import replacing
from rag.answer import Answer, Passage
from rag.backends import chat_model, describe, has_model
from rag.chain import AnswerChain
from rag.engine import Engine
from rag.evidence import gather
from rag.paths import cache_home
from rag.reply import short_answer
from rag.retrieval import Mode

PIPELINES = ("ours", "bm25", "dense", "langchain-baseline")
RANKING_K = 40  # passages fetched to fill RANKING_DEPTH distinct documents

# LangChain's own defaults for the recipe: the splitter settings of its RAG tutorial,
# the `k` of `as_retriever()`, and the prompt of its "stuff" question-answering chain.
LC_CHUNK_SIZE = 1000
LC_CHUNK_OVERLAP = 200
LC_TOP_K = 4
STUFF_PROMPT = """Use the following pieces of context to answer the question at the end. \
If you don't know the answer, just say that you don't know, don't try to make up an answer.

{context}

Question: {question}
Helpful Answer:"""
# The stuff prompt's way of refusing, in the languages of our benchmarks.
_DONT_KNOW = re.compile(
    r"\b(i )?(do not|don't|dont) know\b|\bnot (mentioned|provided|stated|given) in the context\b"
    r"|\bweiß (ich )?(es )?nicht\b|\bnicht bekannt\b",
    re.IGNORECASE,
)


class Pipeline(Protocol):
    name: str

    def answer(self, question: Question, backend: str) -> Answer: ...

    def ranking(self, query: str) -> list[str]:
        """Up to RANKING_DEPTH distinct document ids, best first."""
        ...


def make_pipeline(name: str, engine: Engine) -> Pipeline:
    if name == "ours":
        return Ours(engine)
    if name == "bm25":
        return SearchMode(engine, "bm25", "lexical")
    if name == "dense":
        return SearchMode(engine, "dense", "dense")
    if name == "langchain-baseline":
        return LangChainRecipe(engine)
    raise ValueError(f"unknown pipeline {name!r}: choose from {', '.join(PIPELINES)}")


def distinct_docs(passages: list[Passage]) -> list[str]:
    return unique_in_order([p.doc_id for p in passages])[:RANKING_DEPTH]


class Ours:
    name = "ours"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def answer(self, question: Question, backend: str) -> Answer:
        return self.engine.ask(question.question, question.history, backend)

    def ranking(self, query: str) -> list[str]:
        return distinct_docs(self.engine.search(query, k=RANKING_K))


class SearchMode:
    def __init__(self, engine: Engine, name: str, mode: Mode) -> None:
        self.engine, self.name, self.mode = engine, name, mode
        self._chain = AnswerChain(engine.settings, lambda query: engine.answer_evidence(query, mode))

    def answer(self, question: Question, backend: str) -> Answer:
        return self._chain.ask(question.question, question.history, backend)

    def ranking(self, query: str) -> list[str]:
        return distinct_docs(self.engine.search(query, k=RANKING_K, mode=self.mode))


@dataclass(frozen=True)
class _Piece:
    doc_id: str
    start: int
    end: int


class LangChainRecipe:
    name = "langchain-baseline"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = engine.settings
        # Every document's text through the store interface, so the recipe runs over any store.
        self.documents = {d: doc for d in engine.documents() if (doc := engine.document(d)) is not None}
        self.pieces = self._split()
        self.index = faiss.IndexFlatIP(engine.embedder.dim)
        self.index.add(self._vectors())
        self._extractive = AnswerChain(
            self.settings, lambda query: gather(query, self.retrieve(query, LC_TOP_K), engine.embedder)
        )

    def _split(self) -> list[_Piece]:
        splitter = RecursiveCharacterTextSplitter(
            chunk_size=LC_CHUNK_SIZE, chunk_overlap=LC_CHUNK_OVERLAP, add_start_index=True
        )
        pieces = []
        for doc_id in sorted(self.documents):
            for chunk in splitter.create_documents([self.documents[doc_id].text]):
                start = chunk.metadata["start_index"]
                pieces.append(_Piece(doc_id, start, start + len(chunk.page_content)))
        return pieces

    def _vectors(self) -> np.ndarray:
        """Chunk embeddings, cached by what they depend on (embedding a large corpus takes minutes)."""
        key = hashlib.sha256(self.engine.embedder.identity.encode())
        for p in self.pieces:
            key.update(f"{p.doc_id}\0{p.start}\0{p.end}\0{self.documents[p.doc_id].content_hash}\n".encode())
        path = cache_home() / "eval" / "langchain-baseline" / f"{key.hexdigest()[:16]}.npy"
        if path.is_file():
            return np.load(path, allow_pickle=False)
        texts = [self.documents[p.doc_id].text[p.start : p.end] for p in self.pieces]
        vectors = np.ascontiguousarray(self.engine.embedder.embed_documents_array(texts), dtype=np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp, tmp.open("wb") as f:  # a file object: np.save would add ".npy" to a name
            np.save(f, vectors, allow_pickle=False)
        return vectors

    def retrieve(self, query: str, k: int) -> list[Passage]:
        query_vector = self.engine.embedder.embed_query_array(query).reshape(1, -1).astype(np.float32)
        scores, ids = self.index.search(query_vector, min(k, len(self.pieces)))
        return [self._passage(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _passage(self, position: int, score: float) -> Passage:
        piece = self.pieces[position]
        doc = self.documents[piece.doc_id]
        return Passage.of(doc, f"{piece.doc_id}@lc{piece.start}", piece.start, piece.end, score, score)

    def answer(self, question: Question, backend: str) -> Answer:
        if not has_model(backend):
            return self._extractive.ask(question.question, None, backend)
        return self._stuff(question.question, backend)

    def _stuff(self, question: str, backend: str) -> Answer:
        started = time.perf_counter()
        passages = self.retrieve(question, LC_TOP_K)
        retrieved = time.perf_counter()
        chain = ChatPromptTemplate.from_messages([("human", STUFF_PROMPT)]) | chat_model(self.settings, backend)
        message = chain.invoke({"context": "\n\n".join(p.text for p in passages), "question": question})
        done = time.perf_counter()
        text = str(message.content).strip()
        usage = message.usage_metadata
        return Answer(
            question=question,
            answer=text,
            citations=[],
            passages=passages,
            refused=not text or bool(_DONT_KNOW.search(text)),
            confidence=0.0,
            backend=describe(self.settings, backend),
            timings={
                "retrieve": round(retrieved - started, 4),
                "generate": round(done - retrieved, 4),
                "total": round(done - started, 4),
            },
            standalone_question=question,
            tokens={"prompt": usage["input_tokens"], "completion": usage["output_tokens"]} if usage else {},
            short_answer=short_answer(text.partition("\n")[0]),  # read as ours is, so that EM and F1 compare alike
        )

    def ranking(self, query: str) -> list[str]:
        return distinct_docs(self.retrieve(query, RANKING_K))
