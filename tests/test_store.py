"""The index on disk: atomic saves, one writer, readers that never see half an update."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from index.base import Filter, Indexed
from index.local import LocalStore
from index.records import Chunk, Document
from index.store import IndexBusy, IndexStore
from rag.engine import Engine
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def _write_corpus(folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"note-{i:04d}.txt").write_text(
            f"Briefing note {i}\nThe allies met in city number {i} to discuss defence spending, "
            f"Ukraine and the partnership with country {i % 17}. Delegates agreed on item {i * 7}.\n",
            encoding="utf-8",
        )


def test_a_writer_killed_at_any_moment_leaves_a_loadable_index(tmp_path: Path) -> None:
    index = tmp_path / "index"
    settings = Settings(index_dir=index)
    first = tmp_path / "first"
    _write_corpus(first, 20)
    Engine(settings, auto_demo=False).ingest([first])
    big = tmp_path / "big"
    _write_corpus(big, 400)
    env = {**os.environ, "RAG_INDEX_DIR": str(index), "HF_HUB_OFFLINE": "1"}

    killed = 0
    for delay in (0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 7.0):
        writer = subprocess.Popen(
            [sys.executable, "-m", "rag.cli", "ingest", "-q", str(big)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        if writer.poll() is None:
            writer.send_signal(signal.SIGKILL)
            killed += 1
        writer.wait()
        engine = Engine(settings, auto_demo=False)  # a fresh reader, as after a crash
        snapshot = engine.snapshot()
        assert snapshot.manifest.documents in (20, 420)
        assert len(snapshot.chunks) == snapshot.vectors.size
        assert engine.search("defence spending in city number 3", k=1)
    assert killed >= 3, "the writer finished too fast to be interrupted: make the corpus bigger"


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    store = IndexStore(tmp_path)
    with store.lock():
        with pytest.raises(IndexBusy, match="another process is writing"):
            with store.lock(timeout=0.1):
                pass


def test_nothing_in_the_index_is_loaded_with_pickle() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "index").glob("*.py"))
    assert "import pickle" not in sources and "allow_pickle=True" not in sources


def test_a_document_filter_finds_the_chosen_documents_chunks_in_a_large_collection(tmp_path: Path) -> None:
    # Past `exact_search_max` the vectors sit in IVF cells; a briefer who picks two documents
    # must still get their best chunks, not only those that happen to share the searched cells.
    dim, per_doc = 32, 10
    rng = np.random.default_rng(7)
    upserts = []
    for d in range(300):
        text = " ".join(f"w{d}x{c}" for c in range(per_doc))
        doc = Document(f"d{d}", f"Note {d}", f"d{d}.txt", f"d{d}.txt", "en", text, f"h{d}")
        chunks = [Chunk(f"d{d}#{c}", f"d{d}", 0, len(text), 1) for c in range(per_doc)]
        vectors = rng.normal(size=(per_doc, dim)).astype(np.float32)
        upserts.append(Indexed(doc, chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)))
    store = LocalStore(tmp_path / "index", exact_search_max=500)
    store.write("test-embedder", dim, upserts, [])
    assert store.snapshot().vectors.kind == "ivf"

    target = upserts[42].vectors[3]
    hits = store.dense_search(target, 10, Filter.of(["d7", "d42"], None))
    assert len(hits) == 10 and {h.chunk.doc_id for h in hits} <= {"d7", "d42"}
    assert hits[0].chunk.chunk_id == "d42#3"
