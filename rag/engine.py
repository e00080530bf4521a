"""The one object every entry point (CLI, server, evaluator) talks to.

It owns the settings, the embedder (loaded once), the live index snapshot (reloaded
when another process commits a new generation) and the answer chain.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.store import IndexStore, Snapshot, check_embedder
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
        self.store = IndexStore(settings.index_dir)
        self._auto_demo = auto_demo
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    @property
    def embedder(self) -> Embedder:
        return load_embedder(self.settings.embedder)

    def snapshot(self) -> Snapshot:
        """The live index, reloaded if another process or thread committed since."""
        with self._lock:
            generation = self.store.generation()
            if generation is None and self._auto_demo and self.settings.demo_corpus:
                self._index_demo()
                generation = self.store.generation()
            if self._snapshot is None or self._snapshot.manifest.generation != generation:
                snapshot = self.store.load()
                if snapshot is None:
                    raise NoIndex(
                        f"no index in {self.store.root}: make one with `rag --index {self.store.root} ingest PATH`"
                    )
                check_embedder(snapshot.manifest, self.embedder.identity, self.store.root)
                self._snapshot = snapshot
            return self._snapshot

    def _index_demo(self) -> None:
        print(
            f"No index at {self.store.root} yet: indexing the demo corpus ({self.settings.demo_corpus}).",
            file=sys.stderr,
        )
        ingest([self.settings.demo_corpus], self.settings, self.embedder)

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
        return retrieve(self.snapshot(), self.embedder, query, self.retrieval_params(k, mode), doc_ids, langs)

    def answer_evidence(self, query: str, mode: Mode = "hybrid") -> EvidenceSet:
        """The retrieve and evidence steps: the top-k distinct passages, each with the sentences
        that follow it in its document, and their sentences scored once. Hybrid search, the
        chat's, reranks 20 candidates by their best sentence first; the single-retriever modes
        stay plain, as the baselines they serve."""
        snapshot, k = self.snapshot(), self.settings.top_k
        if mode == "hybrid":
            found = with_following_text(
                snapshot, self.search(query, k=max(k * CANDIDATES_PER_PASSAGE, RERANK_DEPTH)), FOLLOWING_CHARS
            )
            evidence = gather(query, found + self._passages_naming(query, found), self.embedder)
            return restrict(evidence, naming_every_name(query, rerank(evidence), k))
        found = with_following_text(
            snapshot, self.search(query, k=k * CANDIDATES_PER_PASSAGE, mode=mode), FOLLOWING_CHARS
        )
        return gather(query, distinct_passages(found, k), self.embedder)

    def _passages_naming(self, query: str, found: list[Passage]) -> list[Passage]:
        """For each name or number the question asks about that no candidate mentions, the best
        passage that does: "Which instrument does Oskar Vennberg, founder of the harbour
        festival, play?" finds the festival by meaning and the musician only by name."""
        text = " ".join([p.text for p in found] + [p.title for p in found])
        out: list[Passage] = []
        for name in unmentioned_terms(query, detect_language(query), text)[:MAX_NAMES]:
            hits = [p for p in self.search(name, k=1, mode="lexical") if mentions(f"{p.title} {p.text}")(name)]
            out += with_following_text(self.snapshot(), hits, FOLLOWING_CHARS)
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
        return ingest(paths, self.settings, self.embedder, progress, show_progress)

    def select(self, selectors: Sequence[str]) -> list[str]:
        """Doc ids by file path, source or id (`rag remove notes.txt`)."""
        return select(self.snapshot(), selectors)

    def remove(self, doc_ids: Sequence[str]) -> list[str]:
        """Remove exactly these documents."""
        return remove(doc_ids, self.settings)

    def stats(self) -> Stats:
        snap = self.snapshot()
        languages: dict[str, int] = {}
        for doc in snap.documents.values():
            languages[doc.lang] = languages.get(doc.lang, 0) + 1
        return Stats(
            index_dir=str(self.store.root),
            documents=len(snap.documents),
            chunks=len(snap.chunks),
            languages=dict(sorted(languages.items())),
            embedder=snap.manifest.embedder,
            vector_index=snap.manifest.vector_index,
            generation=snap.manifest.generation,
            size_bytes=self.store.size_on_disk(),
        )
