"""Figures for docs/SCALING.md: how ingest scales with parallel workers, and what one more
batch of documents costs the local store as it grows. Synthetic documents (seeded), so any
machine measures the same work.

    .venv/bin/python scripts/bench_scale.py ingest [--docs 1200]
    .venv/bin/python scripts/bench_scale.py commit [--sizes 10000 100000]

ingest: `rag ingest` of one corpus by one process, then of its two halves by two processes at
once (each into an index of its own, as workers embedding shards for one Milvus would), first
unpinned, then each pinned to a core of its own (`taskset`; the embedder then uses one thread).
Wall time includes each process's start and model load; the embedding time is what `rag ingest`
reports.

commit: a local index of N chunks (random unit vectors: only the write is measured), then
100 documents (3 chunks each) added through `LocalStore.write`, which writes a new generation
holding everything (FAISS index, BM25 index, documents) — the cost of the local store's
immutable generations.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from index.base import Indexed
from index.local import LocalStore
from index.records import Chunk, Document
from rag.paths import PROJECT_ROOT

DIM = 512  # USE-multilingual's vector size
CHUNKS_PER_DOC = 3
WORDS_PER_CHUNK = 150  # about the 200 tokens of a default chunk
ADDED_DOCS = 100
CLI = "import sys; from rag.cli import main; sys.exit(main())"


def vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Pronounceable made-up words, with a Zipf-like reuse when drawn by `words`."""
    syllables = ["ka", "lo", "re", "mi", "sun", "tar", "vel", "dor", "qui", "ben", "ost", "ha", "gri", "pe", "zu"]
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(size)]


def words(rng: random.Random, vocab: list[str], count: int) -> str:
    """Sentences of 15 words: half drawn by a Zipf-like rank (a few words often), half uniformly."""
    drawn = [
        vocab[min(int(rng.paretovariate(1.1)) - 1, len(vocab) - 1)] if rng.random() < 0.5 else rng.choice(vocab)
        for _ in range(count)
    ]
    return " ".join(" ".join(drawn[i : i + 15]).capitalize() + "." for i in range(0, count, 15))


def document(rng: random.Random, vocab: list[str], n: int, prefix: str) -> tuple[Document, list[Chunk]]:
    pieces = [words(rng, vocab, WORDS_PER_CHUNK) for _ in range(CHUNKS_PER_DOC)]
    text = "\n\n".join(pieces)
    title = f"{prefix} {n}"
    doc_id = f"{prefix}-{n:07d}"
    chunks, start = [], 0
    for i, piece in enumerate(pieces):
        chunks.append(Chunk(f"{doc_id}#{i}", doc_id, start, start + len(piece), WORDS_PER_CHUNK * 4 // 3))
        start += len(piece) + 2
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    return Document(doc_id, title, f"{doc_id}.txt", f"/synthetic/{doc_id}.txt", "en", text, digest), chunks


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_commit(sizes: list[int]) -> None:
    rng, vectors_rng = random.Random(7), np.random.default_rng(7)
    vocab = vocabulary(rng)
    print("| chunks before | build (s) | add 100 documents (s, median of runs) | runs | index on disk (MB) |")
    print("|---|---|---|---|---|")
    for size in sizes:
        folder = Path(tempfile.mkdtemp(prefix="rag-scale-"))
        try:
            store = LocalStore(folder)
            base = [document(rng, vocab, n, "base") for n in range(size // CHUNKS_PER_DOC)]
            started = time.perf_counter()
            with store.lock():
                store.write("synthetic", DIM, [Indexed(d, c, unit_vectors(vectors_rng, len(c))) for d, c in base], [])
            built = time.perf_counter() - started
            runs = 3 if size <= 20_000 else 2
            times = []
            for run in range(runs):
                added = [document(rng, vocab, n, f"added{run}") for n in range(ADDED_DOCS)]
                started = time.perf_counter()
                with store.lock():
                    store.write(
                        "synthetic", DIM, [Indexed(d, c, unit_vectors(vectors_rng, len(c))) for d, c in added], []
                    )
                times.append(time.perf_counter() - started)
            info = store.info()
            print(
                f"| {size:,} ({info.kind} after) | {built:.1f} | {statistics.median(times):.1f} "
                f"({', '.join(f'{t:.1f}' for t in times)}) | {runs} | {info.size_bytes / 1e6:.0f} |",
                flush=True,
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def write_corpus(path: Path, documents: list[Document]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for doc in documents:
            f.write(json.dumps({"id": doc.doc_id, "title": doc.title, "text": doc.text, "lang": "en"}) + "\n")


def ingest(corpus: Path, index: Path, core: int | None) -> subprocess.Popen[str]:
    pinned = ["taskset", "-c", str(core)] if core is not None else []
    command = [*pinned, sys.executable, "-c", CLI, "--index", str(index), "ingest", "-q", str(corpus)]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RAG_VECTOR_STORE": "local"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT)


def run_workers(shards: list[Path], folder: Path, pin: bool) -> tuple[float, list[float], int]:
    """Wall seconds for all workers, each one's embedding seconds, chunks embedded in all."""
    started = time.perf_counter()
    workers = [ingest(s, folder / f"index-{i}", i if pin else None) for i, s in enumerate(shards)]
    outputs = [w.communicate()[0] for w in workers]
    wall = time.perf_counter() - started
    if any(w.returncode for w in workers):
        raise RuntimeError(f"an ingest worker failed: {outputs}")
    found = [re.search(r"(\d+) chunks embedded in ([\d.]+)s", out) for out in outputs]
    assert all(found), outputs
    return wall, [float(m.group(2)) for m in found if m], sum(int(m.group(1)) for m in found if m)


def bench_ingest(docs: int) -> None:
    rng = random.Random(11)
    vocab = vocabulary(rng)
    folder = Path(tempfile.mkdtemp(prefix="rag-ingest-"))
    try:
        documents = [document(rng, vocab, n, "doc")[0] for n in range(docs)]
        whole, halves = folder / "all.jsonl", [folder / "half-0.jsonl", folder / "half-1.jsonl"]
        write_corpus(whole, documents)
        write_corpus(halves[0], documents[: docs // 2])
        write_corpus(halves[1], documents[docs // 2 :])
        print(f"cores: {len(os.sched_getaffinity(0))}, load average before: {os.getloadavg()[0]:.1f}")
        print("| workers | wall (s) | embedding (s, each worker) | chunks | chunks/s (wall) | speed-up |")
        print("|---|---|---|---|---|---|")
        baseline = None
        for label, shards, pin in (
            ("1 (2 threads)", [whole], False),
            ("2 unpinned (2 threads each)", halves, False),
            ("2 pinned, a core each (1 thread each)", halves, True),
        ):
            wall, embedding, chunks = run_workers(shards, folder / label.split()[0] / str(pin), pin)
            rate = chunks / wall
            baseline = baseline or rate
            print(
                f"| {label} | {wall:.1f} | {', '.join(f'{e:.1f}' for e in embedding)} | {chunks} | "
                f"{rate:.1f} | {rate / baseline:.2f} |",
                flush=True,
            )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="figure", required=True)
    sub.add_parser("ingest").add_argument("--docs", type=int, default=1200)
    sub.add_parser("commit").add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    if args.figure == "ingest":
        bench_ingest(args.docs)
    else:
        bench_commit(args.sizes)


if __name__ == "__main__":
    main()
