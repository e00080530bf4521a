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
from pathlib import Path

import numpy as np
from tqdm import tqdm

from index.records import Chunk, Document
from index.store import IndexProblem, IndexStore, Snapshot, check_embedder, searchable_text
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
    settings: Settings,
    embedder: Embedder,
    progress: Progress | None = None,
    show_progress: bool = False,
) -> IngestReport:
    """Bring the index at `settings.index_dir` up to date with the files under `paths`."""
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

    # Embedding takes the time, so it happens before the write lock, against the generation
    # live now; the lock is held only to commit. A writer that committed meanwhile is noticed
    # under the lock: the plan is made again and only what neither embedded is embedded then.
    store = IndexStore(settings.index_dir)
    embedded: dict[tuple[str, str], tuple[list[Chunk], np.ndarray]] = {}  # (doc id, content hash) -> chunks, vectors
    snapshot = store.load()
    planned = _embed_plan(snapshot, loaded, store, embedder, settings, embedded, progress, show_progress, report)
    with store.lock():
        latest = store.load()
        if _generation(latest) != _generation(snapshot):
            planned = _embed_plan(latest, loaded, store, embedder, settings, embedded, progress, show_progress, report)
        if report.changed:
            store.commit(embedder.identity, embedder.dim, *planned, settings.exact_search_max)
    report.seconds = time.perf_counter() - started
    return report


def _embed_plan(
    snapshot: Snapshot | None,
    loaded: dict[str, list[Document]],
    store: IndexStore,
    embedder: Embedder,
    settings: Settings,
    embedded: dict[tuple[str, str], tuple[list[Chunk], np.ndarray]],
    progress: Progress | None,
    show_progress: bool,
    report: IngestReport,
) -> tuple[list[Document], list[Chunk], np.ndarray]:
    """The next state against `snapshot` (report filled in afresh), embedding what `embedded` lacks."""
    if snapshot is not None:
        check_embedder(snapshot.manifest, embedder.identity, store.root)
    report.added, report.updated, report.unchanged, report.removed = [], [], [], []
    kept, fresh = _plan(snapshot, loaded, report)
    missing = [doc for doc in fresh if (doc.doc_id, doc.content_hash) not in embedded]
    new_chunks = [
        c for doc in missing for c in chunk_text(doc.doc_id, doc.text, settings.chunk_tokens, settings.chunk_overlap)
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
    chunks = [c for doc in fresh for c in embedded[doc.doc_id, doc.content_hash][0]]
    vectors = (
        np.concatenate([embedded[doc.doc_id, doc.content_hash][1] for doc in fresh])
        if fresh
        else np.zeros((0, embedder.dim), np.float32)
    )
    return _merge(snapshot, kept, fresh, chunks, vectors, embedder.dim)


def _generation(snapshot: Snapshot | None) -> int | None:
    return snapshot.manifest.generation if snapshot else None


def select(snapshot: Snapshot | None, selectors: Sequence[str]) -> list[str]:
    """The ids of the documents a person means by file paths (all documents ingested from
    the file), sources or doc ids, as the command line takes them."""
    if snapshot is None:
        return []
    paths = {str(Path(s).expanduser().resolve()) for s in selectors}
    wanted = set(selectors)
    return [
        d.doc_id for d in snapshot.documents.values() if d.origin in paths or d.source in wanted or d.doc_id in wanted
    ]


def remove(doc_ids: Sequence[str], settings: Settings) -> list[str]:
    """Remove exactly the documents with these ids; returns the ids that were there."""
    store = IndexStore(settings.index_dir)
    with store.lock():
        snapshot = store.load()
        if snapshot is None:
            return []
        doomed = [doc_id for doc_id in dict.fromkeys(doc_ids) if doc_id in snapshot.documents]
        if doomed:
            gone = set(doomed)
            kept = [d for d in snapshot.documents.values() if d.doc_id not in gone]
            documents, chunks, vectors = _merge(
                snapshot, kept, [], [], np.zeros((0, snapshot.vectors.dim)), snapshot.vectors.dim
            )
            store.commit(
                snapshot.manifest.embedder, snapshot.manifest.dim, documents, chunks, vectors, settings.exact_search_max
            )
        return doomed


def _plan(
    snapshot: Snapshot | None, loaded: dict[str, list[Document]], report: IngestReport
) -> tuple[list[Document], list[Document]]:
    """Split into documents kept as they are (with their vectors) and documents to (re)embed."""
    existing = dict(snapshot.documents) if snapshot else {}
    taken = {doc_id: doc.origin for doc_id, doc in existing.items()}
    fresh: list[Document] = []
    for origin, docs in loaded.items():
        present = {d.doc_id for d in existing.values() if d.origin == origin}
        seen: set[str] = set()
        for doc in docs:
            doc = _unique_id(doc, taken)
            taken[doc.doc_id] = origin
            seen.add(doc.doc_id)
            old = existing.get(doc.doc_id)
            if old is not None and old.content_hash == doc.content_hash:
                report.unchanged.append(doc.doc_id)
            else:
                (report.updated if old is not None else report.added).append(doc.doc_id)
                fresh.append(doc)
        report.removed.extend(sorted(present - seen))
    reloaded = {d.doc_id for d in fresh} | set(report.removed)
    kept = [d for d in existing.values() if d.doc_id not in reloaded]
    return kept, fresh


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


def _merge(
    snapshot: Snapshot | None,
    kept: list[Document],
    fresh: list[Document],
    new_chunks: list[Chunk],
    new_vectors: np.ndarray,
    dim: int,
) -> tuple[list[Document], list[Chunk], np.ndarray]:
    """The full next state: kept documents with their old chunks and vectors, then the new ones."""
    kept_ids = {d.doc_id for d in kept}
    positions = [i for i, c in enumerate(snapshot.chunks) if c.doc_id in kept_ids] if snapshot else []
    old_vectors = snapshot.vectors.vectors()[positions] if snapshot and positions else np.zeros((0, dim), np.float32)
    old_chunks = [snapshot.chunks[i] for i in positions] if snapshot else []
    return kept + fresh, old_chunks + new_chunks, np.concatenate([old_vectors, new_vectors]).astype(np.float32)
