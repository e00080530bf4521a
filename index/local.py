"""The local store: FAISS vectors and bm25s in immutable generations on disk (`index.store`),
behind the store interface. The default; its folders are the ones `IndexStore` always wrote.

FAISS and bm25s know chunks by position in a generation; this module turns positions into
chunk ids and back, with tables built once per loaded generation.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

from index.base import DocumentInfo, Filter, Hit, Indexed, IndexProblem, StoreInfo, normalise_title
from index.records import Chunk, Document
from index.store import IndexStore, Snapshot


class LocalSettings(Protocol):
    """What the local store reads of `rag.settings.Settings`."""

    @property
    def index_dir(self) -> Path: ...

    @property
    def exact_search_max(self) -> int: ...


def open_local(settings: LocalSettings) -> LocalStore:
    """The `rag.stores` entry point."""
    return LocalStore(settings.index_dir, settings.exact_search_max)


@dataclass
class _Generation:
    """A loaded generation with the tables that answer by chunk id, each built on first use."""

    snapshot: Snapshot

    @cached_property
    def infos(self) -> dict[str, DocumentInfo]:
        counts: dict[str, int] = {}
        for chunk in self.snapshot.chunks:
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        return {d.doc_id: DocumentInfo.of(d, counts.get(d.doc_id, 0)) for d in self.snapshot.documents.values()}

    @cached_property
    def positions(self) -> dict[str, int]:
        return {chunk.chunk_id: i for i, chunk in enumerate(self.snapshot.chunks)}

    @cached_property
    def titles(self) -> dict[str, list[str]]:
        """Normalised title → ids of the documents that carry it, in the documents' order."""
        by_title: dict[str, list[str]] = {}
        for doc in self.snapshot.documents.values():
            by_title.setdefault(normalise_title(doc.title), []).append(doc.doc_id)
        return by_title

    @cached_property
    def first_chunks(self) -> dict[str, int]:
        first: dict[str, int] = {}
        for i, chunk in enumerate(self.snapshot.chunks):
            first.setdefault(chunk.doc_id, i)
        return first

    @cached_property
    def chunk_documents(self) -> tuple[list[str], np.ndarray]:
        """The documents' ids, and for each chunk position the index of its document among them."""
        ids = list(self.infos)
        index = {doc_id: k for k, doc_id in enumerate(ids)}
        return ids, np.fromiter((index[c.doc_id] for c in self.snapshot.chunks), dtype=np.int64)

    def allowed(self, where: Filter | None) -> np.ndarray | None:
        """Chunk positions passing the filter; None when there is none. The filter is asked once per
        document, not per chunk: at 100k chunks the per-chunk loop took 15 ms a query."""
        if where is None:
            return None
        ids, of_chunk = self.chunk_documents
        admitted = np.array([k for k, doc_id in enumerate(ids) if where.admits(self.infos[doc_id])], dtype=np.int64)
        return np.flatnonzero(np.isin(of_chunk, admitted)).astype(np.int64)

    def hit(self, position: int, score: float) -> Hit:
        chunk = self.snapshot.chunks[position]
        return Hit(chunk, self.infos[chunk.doc_id], self.snapshot.text(chunk), score)


class LocalStore:
    def __init__(self, root: Path | str, exact_search_max: int = 50_000) -> None:
        self.disk = IndexStore(root)
        self.location = str(self.disk.root)
        self._exact_max = exact_search_max
        self._loaded: _Generation | None = None
        self._lock = threading.Lock()

    def snapshot(self) -> Snapshot:
        """The live generation, loaded again when another process or thread committed since."""
        return self._generation().snapshot

    def _generation(self) -> _Generation:
        with self._lock:
            generation = self.disk.generation()
            if self._loaded is None or self._loaded.snapshot.manifest.generation != generation:
                snapshot = self.disk.load()
                if snapshot is None:
                    raise IndexProblem(f"no index in {self.location}")
                self._loaded = _Generation(snapshot)
            return self._loaded

    def version(self) -> int | None:
        return self.disk.generation()

    def info(self) -> StoreInfo:
        manifest = self.snapshot().manifest
        return StoreInfo(
            manifest.embedder,
            manifest.dim,
            manifest.chunks,
            manifest.vector_index,
            manifest.generation,
            self.disk.size_on_disk(),
        )

    def documents(self) -> dict[str, DocumentInfo]:
        if self.version() is None:
            return {}
        return dict(self._generation().infos)

    def document(self, doc_id: str) -> Document | None:
        return self.snapshot().documents.get(doc_id)

    def chunks(self) -> list[Chunk]:
        return list(self.snapshot().chunks)

    def dense_search(self, vector: np.ndarray, k: int, where: Filter | None = None) -> list[Hit]:
        generation = self._generation()
        allowed = generation.allowed(where)
        if allowed is not None and len(allowed) == 0:
            return []
        return [generation.hit(i, score) for i, score in generation.snapshot.vectors.search(vector, k, allowed)]

    def lexical_search(self, query: str, k: int, where: Filter | None = None) -> list[Hit]:
        generation = self._generation()
        allowed = generation.allowed(where)
        if allowed is not None and len(allowed) == 0:
            return []
        return [generation.hit(i, score) for i, score in generation.snapshot.lexical.search(query, k, allowed)]

    def vectors(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        generation = self._generation()
        positions = generation.positions
        vectors = generation.snapshot.vectors
        return {c: vectors.vector(positions[c]) for c in chunk_ids if c in positions}

    def titled(self, titles: Collection[str]) -> dict[str, list[Hit]]:
        generation = self._generation()
        by_title, first = generation.titles, generation.first_chunks
        return {t: [generation.hit(first[d], 0.0) for d in by_title[t]] for t in titles if t in by_title}

    def text_after(self, spans: Sequence[tuple[str, int]], chars: int) -> list[str]:
        documents = self.snapshot().documents
        return [documents[doc_id].text[offset : offset + chars] for doc_id, offset in spans]

    def lock(self) -> AbstractContextManager[object]:
        return self.disk.lock()

    def write(self, embedder: str, dim: int, upserts: Sequence[Indexed], deletes: Collection[str]) -> None:
        """A new generation: the documents kept, in their order with their chunks and vectors, then the upserted."""
        snapshot = self.disk.load()
        gone = set(deletes) | {u.document.doc_id for u in upserts}
        documents = [d for d in snapshot.documents.values() if d.doc_id not in gone] if snapshot else []
        positions = [i for i, c in enumerate(snapshot.chunks) if c.doc_id not in gone] if snapshot else []
        chunks = [snapshot.chunks[i] for i in positions] if snapshot else []
        old_vectors = snapshot.vectors.vectors()[positions] if snapshot and positions else np.zeros((0, dim))
        self.disk.commit(
            embedder,
            dim,
            documents + [u.document for u in upserts],
            chunks + [c for u in upserts for c in u.chunks],
            np.concatenate([old_vectors, *(u.vectors for u in upserts)]).astype(np.float32),
            self._exact_max,
        )
