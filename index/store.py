"""The local store's files: documents, chunks, FAISS vectors and BM25, saved atomically.
(`index.local.LocalStore` puts the store interface in front of them.)

Layout of an index folder:

    CURRENT            name of the live generation, replaced atomically
    .write.lock        held by the one writer
    gen-000007/        a complete, immutable generation
        manifest.json  embedder, sizes, format
        documents.jsonl, chunks.jsonl, vectors.faiss, lexical/

A commit writes a whole new generation into a temporary folder, syncs it, renames
it into place and only then points CURRENT at it. A writer killed at any moment
leaves CURRENT naming the previous, complete generation; readers never lock and
never see half an update. The previous generation is kept so that a reader that
has just read CURRENT can still load it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from index.base import (
    EmbedderMismatch,
    IndexBusy,
    IndexCorrupt,
    IndexProblem,
    IndexWriteFailed,
    WriteLock,
    lexical_text,
    searchable_text,
)
from index.files import fsync, replacing
from index.lexical import LexicalIndex
from index.records import Chunk, Document
from index.vectors import VectorIndex

FORMAT = 1

# The errors and `searchable_text` live with the store interface (index.base); the command line,
# scripts and tests still import them from here.
__all__ = [
    "EmbedderMismatch",
    "IndexBusy",
    "IndexCorrupt",
    "IndexProblem",
    "IndexStore",
    "IndexWriteFailed",
    "Manifest",
    "Snapshot",
    "searchable_text",
]


@dataclass(frozen=True)
class Manifest:
    format: int
    generation: int
    embedder: str
    dim: int
    documents: int
    chunks: int
    vector_index: str
    created: float


@dataclass(frozen=True)
class Snapshot:
    """One loaded generation: everything a search needs, read-only."""

    manifest: Manifest
    documents: dict[str, Document]
    chunks: list[Chunk]
    vectors: VectorIndex
    lexical: LexicalIndex

    def text(self, chunk: Chunk) -> str:
        return self.documents[chunk.doc_id].text[chunk.start : chunk.end]


class IndexStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @property
    def _current_file(self) -> Path:
        return self.root / "CURRENT"

    def generation(self) -> int | None:
        """The live generation number, cheaply (one small read), or None for no index."""
        try:
            return int(self._current_file.read_text().strip().removeprefix("gen-"))
        except (FileNotFoundError, ValueError):
            return None

    def exists(self) -> bool:
        return self.generation() is not None

    def load(self) -> Snapshot | None:
        """The live generation, or None when nothing was ever committed."""
        for _ in range(3):  # CURRENT may move on between reading it and opening the folder
            generation = self.generation()
            if generation is None:
                return None
            folder = self._folder(generation)
            if folder.is_dir():
                return _read_generation(folder)
            time.sleep(0.05)
        raise IndexCorrupt(f"{self._current_file} names a generation that does not exist; re-ingest into a new --index")

    def lock(self, timeout: float = 600.0) -> FileLock:
        """The writer's lock. Use as a context manager around load → commit."""
        self.root.mkdir(parents=True, exist_ok=True)
        return WriteLock(str(self.root / ".write.lock"), timeout=timeout)

    def commit(
        self,
        embedder: str,
        dim: int,
        documents: list[Document],
        chunks: list[Chunk],
        vectors: np.ndarray,
        exact_max: int,
    ) -> Snapshot:
        """Write a new generation holding exactly these documents, chunks and vectors.

        Call with the lock held. `vectors[i]` belongs to `chunks[i]`."""
        if len(vectors) != len(chunks):
            raise ValueError(f"{len(vectors)} vectors for {len(chunks)} chunks")
        generation = (self.generation() or 0) + 1
        docs = {d.doc_id: d for d in documents}
        vector_index = VectorIndex.build(vectors, dim, exact_max)
        snapshot = Snapshot(
            manifest=Manifest(
                FORMAT, generation, embedder, dim, len(docs), len(chunks), vector_index.kind, time.time()
            ),
            documents=docs,
            chunks=chunks,
            vectors=vector_index,
            lexical=LexicalIndex.build([lexical_text(docs[c.doc_id], c) for c in chunks]),
        )

        tmp = self.root / f".gen-{generation:06d}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tmp.mkdir(parents=True)
            _write_generation(tmp, snapshot)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)  # a full disk must not also keep half a generation
            raise IndexWriteFailed(
                f"could not write the index at {self.root}: {exc.strerror or exc}; nothing changed "
                "(the index is as it was): free disk space or fix the folder's permissions, then ingest again"
            ) from exc
        final = self._folder(generation)
        shutil.rmtree(final, ignore_errors=True)  # left by a writer killed after the rename
        os.replace(tmp, final)
        fsync(self.root)
        with replacing(self._current_file, durable=True) as tmp:
            tmp.write_text(final.name + "\n", encoding="utf-8")
        self._collect_garbage(keep={generation, generation - 1})
        return snapshot

    def _folder(self, generation: int) -> Path:
        return self.root / f"gen-{generation:06d}"

    def _collect_garbage(self, keep: set[int]) -> None:
        for path in self.root.iterdir():
            name = path.name
            stale_tmp = name.startswith(".gen-") and name.endswith(".tmp")
            old_gen = name.startswith("gen-") and name[4:].isdigit() and int(name[4:]) not in keep
            if stale_tmp or old_gen:
                shutil.rmtree(path, ignore_errors=True)

    def size_on_disk(self) -> int:
        generation = self.generation()
        if generation is None:
            return 0
        return sum(p.stat().st_size for p in self._folder(generation).rglob("*") if p.is_file())


def _write_generation(folder: Path, snapshot: Snapshot) -> None:
    _write_jsonl(folder / "documents.jsonl", (d.to_json() for d in snapshot.documents.values()))
    _write_jsonl(folder / "chunks.jsonl", (c.to_json() for c in snapshot.chunks))
    snapshot.vectors.save(folder / "vectors.faiss")
    snapshot.lexical.save(folder / "lexical")
    # The manifest goes last: a folder with a manifest is a folder that was finished.
    (folder / "manifest.json").write_text(json.dumps(asdict(snapshot.manifest), indent=2))
    for path in folder.rglob("*"):
        if path.is_file():
            fsync(path)
    fsync(folder)


def _read_generation(folder: Path) -> Snapshot:
    try:
        manifest = Manifest(**json.loads((folder / "manifest.json").read_text()))
        if manifest.format != FORMAT:
            raise IndexCorrupt(f"index format {manifest.format} at {folder} is not {FORMAT}: rebuild the index")
        documents = {d.doc_id: d for d in map(Document.from_json, _read_jsonl(folder / "documents.jsonl"))}
        chunks = [Chunk.from_json(c) for c in _read_jsonl(folder / "chunks.jsonl")]
        vectors = VectorIndex.load(folder / "vectors.faiss")
        lexical = LexicalIndex.load(folder / "lexical", len(chunks))
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as exc:
        if isinstance(exc, IndexCorrupt):
            raise
        raise IndexCorrupt(f"cannot read the index at {folder}: {exc}") from exc
    if vectors.size != len(chunks) or len(documents) != manifest.documents:
        raise IndexCorrupt(f"the index at {folder} is inconsistent; rebuild it with `rag ingest`")
    return Snapshot(manifest, documents, chunks, vectors, lexical)


def _write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)
