"""The one object every entry point (CLI, server, evaluator) talks to.

It owns the settings, the embedder (loaded once), the vector store (`vector_store`, found
through the `rag.stores` entry points; its embedder checked whenever another process wrote to
it) and the answer chain.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.base import DocumentInfo, IndexProblem, VectorStore, check_embedder
from index.local import LocalStore
from index.records import Chunk, Document
from index.store import Snapshot
from rag import registry
from rag.answer import Answer, EvidenceFound, Passage
from rag.chain import AnswerChain
from rag.claims import mentions, unmentioned_terms
from rag.condense import History
from rag.embedders import Embedder, load_embedder
from rag.evidence import EvidenceSet, gather, restrict
from rag.ingest import IngestReport, Progress, ingest, remove, select
from rag.language import detect_language
from rag.rerank import RERANK_DEPTH, rerank
from rag.retrieval import (
    MAX_NAMES,
    Mode,
    RetrievalParams,
    distinct_passages,
    naming_every_name,
    retrieve,
    with_following_text,
)
from rag.settings import Settings

FOLLOWING_CHARS = 600  # about 150 tokens of the text after each passage, for the answer to draw on
CANDIDATES_PER_PASSAGE = 3  # passages fetched per answer passage, as repeats are dropped


@dataclass(frozen=True)
class Stats:
    index_dir: str
    documents: int
    chunks: int
    languages: dict[str, int]
    embedder: str
    vector_index: str
    generation: int
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


class NoIndex(FileNotFoundError):
    """The index folder holds no index; the message says how to make one."""


def is_default_index(settings: Settings) -> bool:
    """Whether the settings name the default index folder, the one the demo corpus may fill unasked:
    a folder named with --index, RAG_INDEX_DIR or a settings file is the user's own."""
    return settings.index_dir.resolve() == Settings().index_dir.resolve()


class Engine:
    def __init__(self, settings: Settings, auto_demo: bool = True) -> None:
        """With `auto_demo`, an empty index is filled with the demo corpus on first use; the
        commands ask for that only for the default index (`is_default_index`)."""
        self.settings = settings
        self.store: VectorStore = registry.load(registry.STORES, settings.vector_store, "vector store")(settings)
        self._auto_demo = auto_demo
        self._checked: int | None = None  # the store version whose embedder was checked
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        return load_embedder(self.settings.embedder)

    def _ready(self) -> VectorStore:
        """The store, holding something and built with this embedder (checked again after every write)."""
        with self._lock:
            version = self.store.version()
            if version is None and self._auto_demo and self.settings.demo_corpus:
                self._index_demo()
                version = self.store.version()
            if version is None:
                raise NoIndex(
                    f"no index in {self.store.location}: "
                    f"make one with `rag --index {self.settings.index_dir} ingest PATH`"
                )
            if version != self._checked:
                check_embedder(self.store, self.embedder.identity)
                self._checked = version
            return self.store

    def snapshot(self) -> Snapshot:
        """The local store's live generation, for the readers that still take documents and chunks
        from it rather than from `documents()` and `document()`, which every store answers."""
        store = self._ready()
        if not isinstance(store, LocalStore):
            raise IndexProblem(
                f"Engine.snapshot() reads the local store's files; with vector_store = {self.settings.vector_store!r} "
                "read Engine.documents() and Engine.document()"
            )
        return store.snapshot()

    def documents(self) -> dict[str, DocumentInfo]:
        """Every indexed document by id, without its text."""
        return self._ready().documents()

    def document(self, doc_id: str) -> Document | None:
        return self._ready().document(doc_id)

    def chunks(self) -> list[Chunk]:
        """Every indexed chunk, each document's in order (`VectorStore.chunks`)."""
        return self._ready().chunks()

    def _index_demo(self) -> None:
        print(
            f"No index at {self.store.location} yet: indexing the demo corpus ({self.settings.demo_corpus}).",
            file=sys.stderr,
        )
        ingest([self.settings.demo_corpus], self.store, self.settings, self.embedder)

    def retrieval_params(self, k: int | None = None, mode: Mode = "hybrid") -> RetrievalParams:
        s = self.settings
        return RetrievalParams(k or s.top_k, s.candidates, s.lexical_weight, s.lexical_weight_monolingual, mode)

    def search(
        self,
        query: str,
        k: int | None = None,
        doc_ids: Iterable[str] | None = None,
        langs: Iterable[str] | None = None,
        mode: Mode = "hybrid",
    ) -> list[Passage]:
        return retrieve(self._ready(), self.embedder, query, self.retrieval_params(k, mode), doc_ids, langs)

    def answer_evidence(self, query: str, mode: Mode = "hybrid") -> EvidenceSet:
        """The retrieve and evidence steps: the top-k distinct passages, each with the sentences
        that follow it in its document, and their sentences scored once. Hybrid search, the
        chat's, reranks 20 candidates by their best sentence first; the single-retriever modes
        stay plain, as the baselines they serve."""
        store, k = self._ready(), self.settings.top_k
        if mode == "hybrid":
            found = with_following_text(
                store, self.search(query, k=max(k * CANDIDATES_PER_PASSAGE, RERANK_DEPTH)), FOLLOWING_CHARS
            )
            evidence = gather(query, found + self._passages_naming(query, found), self.embedder)
            return restrict(evidence, naming_every_name(query, rerank(evidence), k))
        found = with_following_text(store, self.search(query, k=k * CANDIDATES_PER_PASSAGE, mode=mode), FOLLOWING_CHARS)
        return gather(query, distinct_passages(found, k), self.embedder)

    def _passages_naming(self, query: str, found: list[Passage]) -> list[Passage]:
        """For each name or number the question asks about that no candidate mentions, the best
        passage that does: "Which instrument does Oskar Vennberg, founder of the harbour
        festival, play?" finds the festival by meaning and the musician only by name."""
        text = " ".join([p.text for p in found] + [p.title for p in found])
        out: list[Passage] = []
        for name in unmentioned_terms(query, detect_language(query), text)[:MAX_NAMES]:
            hits = [p for p in self.search(name, k=1, mode="lexical") if mentions(f"{p.title} {p.text}")(name)]
            out += with_following_text(self.store, hits, FOLLOWING_CHARS)
        return out

    def ask(self, question: str, history: History | None = None, backend: str | None = None) -> Answer:
        return self._chain().ask(question, history, backend)

    def ask_stream(
        self,
        question: str,
        history: History | None = None,
        backend: str | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[str | EvidenceFound | Answer]:
        """The evidence found, then the answer text as it is checked, then the final `Answer`;
        setting `stop` ends the stream at the model's next token, without an Answer."""
        return self._chain().stream(question, history, backend, stop)

    def _chain(self) -> AnswerChain:
        return AnswerChain(self.settings, self.answer_evidence)

    def ingest(
        self, paths: Sequence[str | Path], progress: Progress | None = None, show_progress: bool = False
    ) -> IngestReport:
        return ingest(paths, self.store, self.settings, self.embedder, progress, show_progress)

    def select(self, selectors: Sequence[str]) -> list[str]:
        """Doc ids by file path, source or id (`rag remove notes.txt`)."""
        return select(self.documents(), selectors)

    def remove(self, doc_ids: Sequence[str]) -> list[str]:
        """Remove exactly these documents."""
        return remove(doc_ids, self.store)

    def stats(self) -> Stats:
        store = self._ready()
        info = store.info()
        languages: dict[str, int] = {}
        for doc in store.documents().values():
            languages[doc.lang] = languages.get(doc.lang, 0) + 1
        return Stats(
            index_dir=store.location,
            documents=sum(languages.values()),
            chunks=info.chunks,
            languages=dict(sorted(languages.items())),
            embedder=info.embedder,
            vector_index=info.kind,
            generation=info.version,
            size_bytes=info.size_bytes,
        )
