"""What every vector store offers: the interface retrieval and ingest talk to, keyed by chunk id.

A store holds documents, the chunks cut from them, one dense vector per chunk and a lexical
(BM25) index over the chunks' text. It finds and fetches; ranking (fusion, title links, rerank)
stays in `rag`. `index.local.LocalStore` (FAISS + bm25s in immutable generations on disk) is
the default, `index.milvus.MilvusStore` keeps everything in one Milvus collection; others are
found by name through the `rag.stores` entry points.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from filelock import FileLock, Timeout

from index.records import Chunk, Document


class IndexProblem(RuntimeError):
    """Base for index problems a user must act on; the message says what to do."""


class IndexBusy(IndexProblem):
    pass


class EmbedderMismatch(IndexProblem):
    pass


class IndexCorrupt(IndexProblem):
    pass


class IndexWriteFailed(IndexProblem):
    pass


class StoreUnavailable(IndexProblem):
    """The store cannot be reached or used as configured (a missing package, a server down)."""


class WriteLock(FileLock):
    """The one writer's lock file, whose timeout says who to wait for."""

    def __enter__(self) -> WriteLock:
        try:
            return super().__enter__()
        except Timeout as exc:
            raise IndexBusy(
                f"another process is writing the index ({self.lock_file}); try again when it is done"
            ) from exc


def searchable_text(doc: Document, chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: its text under its document's title.

    The title carries the subject a chunk often leaves implicit ("He said...")."""
    return f"{doc.title}\n{doc.text[chunk.start : chunk.end]}"


def lexical_text(doc: Document, chunk: Chunk) -> str:
    """What BM25 indexes: the title counts twice, a poor man's BM25F field boost.

    Questions name their subject, and the subject is usually the title: on
    HotpotQA this lifted fused R@10 from 0.932 to 0.940 (docs/PERFORMANCE.md)."""
    return f"{doc.title}\n{searchable_text(doc, chunk)}"


def normalise_title(title: str) -> str:
    """Lower case, without a trailing disambiguation such as " (1945 film)"."""
    return re.sub(r"\s*\([^)]*\)\s*$", "", title).strip().lower()


ADDED = "added"  # the Document.meta key of when this version of it was ingested (ISO 8601, UTC)


@dataclass(frozen=True)
class DocumentInfo:
    """A stored document without its text: what ingest compares and a library lists."""

    doc_id: str
    title: str
    source: str
    origin: str
    lang: str
    content_hash: str
    chunks: int  # how many chunks the store holds for it
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def added(self) -> str | None:
        """When this version of the document was ingested; None for one indexed before dates were kept."""
        value = self.meta.get(ADDED)
        return value if isinstance(value, str) else None

    @classmethod
    def of(cls, doc: Document, chunks: int) -> DocumentInfo:
        return cls(doc.doc_id, doc.title, doc.source, doc.origin, doc.lang, doc.content_hash, chunks, doc.meta)


@dataclass(frozen=True)
class Hit:
    """A chunk a search found or a lookup fetched, with its text and its document."""

    chunk: Chunk
    document: DocumentInfo
    text: str
    score: float  # the cosine for a dense search, the BM25 score for a lexical one, 0 for a lookup


@dataclass(frozen=True)
class Filter:
    """Only chunks of these documents and of documents in these languages; None leaves a side open."""

    doc_ids: frozenset[str] | None = None
    langs: frozenset[str] | None = None

    @classmethod
    def of(cls, doc_ids: Iterable[str] | None, langs: Iterable[str] | None) -> Filter | None:
        """The filter, or None when neither side is given (nothing to filter)."""
        if doc_ids is None and langs is None:
            return None
        return cls(None if doc_ids is None else frozenset(doc_ids), None if langs is None else frozenset(langs))

    def admits(self, document: DocumentInfo) -> bool:
        return (self.doc_ids is None or document.doc_id in self.doc_ids) and (
            self.langs is None or document.lang in self.langs
        )


@dataclass(frozen=True)
class Indexed:
    """A document as a store takes it in: its chunks and their vectors (row i for chunk i)."""

    document: Document
    chunks: list[Chunk]
    vectors: np.ndarray


@dataclass(frozen=True)
class StoreInfo:
    embedder: str  # the identity of the embedder it was built with
    dim: int
    chunks: int
    kind: str  # the vector index, as `rag stats` shows it
    version: int
    size_bytes: int  # on this machine's disk; 0 for a store on a server


class VectorStore(Protocol):
    """An index of chunks keyed by chunk id. Read methods may run in any thread; writes run under
    `lock()`. The methods other than `version` and `lock` may assume something was written."""

    location: str  # where it is, as messages name it: a folder, a Milvus URI and collection

    def version(self) -> int | None:
        """A number that changes with every write; None while nothing was ever written. Cheap."""
        ...

    def info(self) -> StoreInfo: ...

    def documents(self) -> dict[str, DocumentInfo]:
        """Every stored document by id: what incremental ingest compares its files with."""
        ...

    def document(self, doc_id: str) -> Document | None:
        """One document with its whole text."""
        ...

    def chunks(self) -> list[Chunk]:
        """Every chunk, each document's in order, in an order that only a write changes: what an
        evaluation run fingerprints, so that its answers are not mixed with another index's."""
        ...

    def dense_search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        """The `k` chunks whose vectors have the highest inner product with `vector`, best first."""
        ...

    def lexical_search(self, query: str, k: int, where: Filter | None = None) -> list[Hit]:
        """The `k` chunks with the highest BM25 score for `query`, best first; only chunks sharing a word."""
        ...

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """The stored vectors of these chunks (those that exist)."""
        ...

    def titled(self, titles: Collection[str]) -> dict[str, list[Hit]]:
        """For each of these normalised titles that documents carry, the first chunk of each such
        document (score 0), in a stable order: the title links of `rag.retrieval`."""
        ...

    def text_after(self, spans: Sequence[tuple[str, int]], chars: int) -> list[str]:
        """For each (doc id, offset), up to `chars` characters of the document's text from there;
        fewer only where the document ends."""
        ...

    def lock(self) -> AbstractContextManager[object]:
        """Held by the one writer around reading the state, planning and `write`."""
        ...

    def write(self, embedder: str, dim: int, upserts: Sequence[Indexed], deletes: Collection[str]) -> None:
        """Replace each upserted document (all its chunks and vectors) and remove the deleted ones.

        Call with the lock held."""
        ...


def check_embedder(store: VectorStore, embedder: str) -> None:
    """Refuse a store built with another embedder: its vectors mean nothing to this one."""
    built = store.info().embedder
    if built != embedder:
        raise EmbedderMismatch(
            f"the index at {store.location} was built with embedder {built!r}, not {embedder!r}: "
            f"set RAG_EMBEDDER={built} to use it, or build a new index elsewhere "
            "(--index DIR; for Milvus, another RAG_MILVUS_COLLECTION)"
        )
