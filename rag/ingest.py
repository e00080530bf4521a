"""Files in, index updated: load → chunk → embed → commit, incrementally.

Each file is an *origin*: re-ingesting it compares its documents with the ones the
index already holds from it. Unchanged documents keep their chunks and vectors (no
re-embedding), changed ones are re-chunked and re-embedded, documents the file no
longer holds are dropped. Nothing changed means nothing is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.base import ADDED, DocumentInfo, Indexed, IndexProblem, VectorStore, check_embedder, searchable_text
from index.records import Chunk, Document
from rag.chunking import chunk_text
from rag.embedders import Embedder
from rag.loaders import LoadError, discover, load_file
from rag.settings import Settings

__all__ = ["IndexProblem", "IngestReport", "Progress", "ingest", "remove", "select"]

EMBED_BATCH = 64
Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    chunks_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        if not self.changed and not self.skipped:
            return f"nothing changed: {len(self.unchanged)} documents already up to date"
        parts = [
            f"{len(self.added)} added",
            f"{len(self.updated)} updated",
            f"{len(self.removed)} removed",
            f"{len(self.unchanged)} unchanged",
            f"{len(self.skipped)} skipped",
        ]
        return f"{', '.join(parts)}; {self.chunks_embedded} chunks embedded in {self.seconds:.1f}s"


def ingest(
    paths: Sequence[str | Path],
    store: VectorStore,
    settings: Settings,
    embedder: Embedder,
    progress: Progress | None = None,
    show_progress: bool = False,
) -> IngestReport:
    """Bring `store` up to date with the files under `paths`."""
    started = time.perf_counter()
    report = IngestReport()
    files, problems = discover(paths)
    report.skipped.extend((str(p), reason) for p, reason in problems)

    loaded: dict[str, list[Document]] = {}
    for n, file in enumerate(tqdm(files, desc="reading", unit="file", disable=not show_progress), start=1):
        try:
            loaded[str(file.path)] = load_file(file, report.skipped)
        except LoadError as exc:
            report.skipped.append((str(file.path), str(exc)))
        if progress:
            progress("reading", n, len(files))

    # Embedding takes the time, so it happens before the write lock, against the store as it
    # is now; the lock is held only to write. A writer that wrote meanwhile is noticed under
    # the lock: the plan is made again and only what neither embedded is embedded then.
    embedded: dict[tuple[str, str], tuple[list[Chunk], np.ndarray]] = {}  # (doc id, content hash) -> chunks, vectors
    version = store.version()
    planned = _embed_plan(
        _stored(store, embedder), loaded, embedder, settings, embedded, progress, show_progress, report
    )
    with store.lock():
        if store.version() != version:
            stored = _stored(store, embedder)
            planned = _embed_plan(stored, loaded, embedder, settings, embedded, progress, show_progress, report)
        if report.changed:
            store.write(embedder.identity, embedder.dim, *planned)
    report.seconds = time.perf_counter() - started
    return report


def _stored(store: VectorStore, embedder: Embedder) -> dict[str, DocumentInfo]:
    """The documents the store holds, once it is known to be this embedder's."""
    if store.version() is None:
        return {}
    check_embedder(store, embedder.identity)
    return store.documents()


def _embed_plan(
    stored: dict[str, DocumentInfo],
    loaded: dict[str, list[Document]],
    embedder: Embedder,
    settings: Settings,
    embedded: dict[tuple[str, str], tuple[list[Chunk], np.ndarray]],
    progress: Progress | None,
    show_progress: bool,
    report: IngestReport,
) -> tuple[list[Indexed], list[str]]:
    """The documents to write and to delete against `stored` (report filled in afresh),
    embedding what `embedded` lacks."""
    report.added, report.updated, report.unchanged, report.removed = [], [], [], []
    fresh = _plan(stored, loaded, report)
    missing = [doc for doc in fresh if (doc.doc_id, doc.content_hash) not in embedded]
    new_chunks = [
        c
        for doc in missing
        for c in chunk_text(doc.doc_id, doc.text, settings.chunk_tokens, settings.chunk_overlap, doc.lang)
    ]
    embed_started = time.perf_counter()
    new_vectors = _embed(embedder, missing, new_chunks, progress, show_progress)
    report.embed_seconds += time.perf_counter() - embed_started
    report.chunks_embedded += len(new_chunks)
    counts, at = Counter(c.doc_id for c in new_chunks), 0
    for doc in missing:  # chunks come in the documents' order
        count = counts[doc.doc_id]
        embedded[doc.doc_id, doc.content_hash] = (new_chunks[at : at + count], new_vectors[at : at + count])
        at += count
    return [Indexed(doc, *embedded[doc.doc_id, doc.content_hash]) for doc in fresh], report.removed


def select(documents: dict[str, DocumentInfo], selectors: Sequence[str]) -> list[str]:
    """The ids of the documents a person means by file paths (all documents ingested from
    the file), sources or doc ids, as the command line takes them."""
    paths = {str(Path(s).expanduser().resolve()) for s in selectors}
    wanted = set(selectors)
    return [d.doc_id for d in documents.values() if d.origin in paths or d.source in wanted or d.doc_id in wanted]


def remove(doc_ids: Sequence[str], store: VectorStore) -> list[str]:
    """Remove exactly the documents with these ids; returns the ids that were there."""
    with store.lock():
        if store.version() is None:
            return []
        stored = store.documents()
        doomed = [doc_id for doc_id in dict.fromkeys(doc_ids) if doc_id in stored]
        if doomed:
            info = store.info()
            store.write(info.embedder, info.dim, [], doomed)
        return doomed


def _plan(stored: dict[str, DocumentInfo], loaded: dict[str, list[Document]], report: IngestReport) -> list[Document]:
    """The documents to (re)embed, dated now; the report says which are added, updated, unchanged
    and removed. An unchanged document is not written again, so it keeps the date it was added."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    taken = {doc_id: doc.origin for doc_id, doc in stored.items()}
    fresh: list[Document] = []
    for origin, docs in loaded.items():
        present = {d.doc_id for d in stored.values() if d.origin == origin}
        seen: set[str] = set()
        for doc in docs:
            doc = _unique_id(doc, taken)
            taken[doc.doc_id] = origin
            seen.add(doc.doc_id)
            old = stored.get(doc.doc_id)
            if old is not None and old.content_hash == doc.content_hash:
                report.unchanged.append(doc.doc_id)
            else:
                (report.updated if old is not None else report.added).append(doc.doc_id)
                fresh.append(dataclasses.replace(doc, meta={**doc.meta, ADDED: now}))
        report.removed.extend(sorted(present - seen))
    return fresh


def _unique_id(doc: Document, taken: dict[str, str]) -> Document:
    """Two files may both be called notes.txt: the second gets a suffix from its path."""
    owner = taken.get(doc.doc_id)
    if owner is None or owner == doc.origin:
        return doc
    suffix = hashlib.sha256(doc.origin.encode()).hexdigest()[:8]
    return dataclasses.replace(doc, doc_id=f"{doc.doc_id}-{suffix}")


def _embed(
    embedder: Embedder, docs: list[Document], chunks: list[Chunk], progress: Progress | None, show_progress: bool
) -> np.ndarray:
    by_id = {d.doc_id: d for d in docs}
    texts = [searchable_text(by_id[c.doc_id], c) for c in chunks]
    batches = []
    bar = tqdm(total=len(texts), desc="embedding", unit="chunk", disable=not show_progress)
    for begin in range(0, len(texts), EMBED_BATCH):
        batches.append(embedder.embed_documents_array(texts[begin : begin + EMBED_BATCH]))
        bar.update(len(batches[-1]))
        if progress:
            progress("embedding", min(begin + EMBED_BATCH, len(texts)), len(texts))
    bar.close()
    return np.concatenate(batches) if batches else np.zeros((0, embedder.dim), np.float32)
