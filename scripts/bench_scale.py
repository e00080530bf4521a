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

query: N chunks (seeded synthetic text, seeded random unit vectors of 512 dimensions; uniform, or
clustered around `--topics` centres) written into one store, then single queries timed one by one:
dense top 10, dense top 10 within a filter of 10 documents (as the chat restricts a question to chosen
documents), and BM25 top 10. Recall@10 is against exact inner-product search (numpy; checked against
faiss IndexFlatIP) on the same queries. Embedding is not part of it. The local store runs through the
project's own code (`LocalStore.write`, `dense_search`, `lexical_search`: FAISS IVF above 50,000 chunks).
Milvus runs in a venv of its own with milvus-lite 2.5 (its C++ server) and pymilvus only; this part of
the script imports nothing of the project:

    python3 -m venv ../mv25 && ../mv25/bin/pip install 'milvus-lite==2.5.1' 'pymilvus>=2.5,<2.6' numpy 'setuptools<81'
    for run in 1 2; do
      .venv/bin/python scripts/bench_scale.py query --store local
      ../mv25/bin/python scripts/bench_scale.py query --store milvus
    done
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

# The project's modules are imported where they are used: `query --store milvus` runs in a venv of its own
# (another milvus-lite than the project's) with only pymilvus and numpy.
if TYPE_CHECKING:
    from index.records import Chunk, Document

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


def pieces(rng: random.Random, vocab: list[str]) -> list[str]:
    """The texts of one document's chunks."""
    return [words(rng, vocab, WORDS_PER_CHUNK) for _ in range(CHUNKS_PER_DOC)]


def document(rng: random.Random, vocab: list[str], n: int, prefix: str) -> tuple[Document, list[Chunk]]:
    return records(pieces(rng, vocab), n, prefix)


def records(texts: list[str], n: int, prefix: str) -> tuple[Document, list[Chunk]]:
    """A document made of these chunk texts, and its chunks (ids `prefix-n#i`)."""
    from index.records import Chunk, Document

    text = "\n\n".join(texts)
    title = f"{prefix} {n}"
    doc_id = f"{prefix}-{n:07d}"
    chunks, start = [], 0
    for i, piece in enumerate(texts):
        chunks.append(Chunk(f"{doc_id}#{i}", doc_id, start, start + len(piece), WORDS_PER_CHUNK * 4 // 3))
        start += len(piece) + 2
    digest = hashlib.sha256(f"{title}\n{text}".encode()).hexdigest()
    return Document(doc_id, title, f"{doc_id}.txt", f"/synthetic/{doc_id}.txt", "en", text, digest), chunks


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_commit(sizes: list[int]) -> None:
    from index.base import Indexed
    from index.local import LocalStore

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
    from rag.paths import PROJECT_ROOT

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


QUERY_PREFIX = "doc"
K = 10
NPROBE = 16  # index/vectors.py's NPROBE (checked when the local store runs), given to Milvus's IVF_FLAT too
INSERT_BATCH = 500  # rows per Milvus insert, as index/milvus.py sends them
TOPIC_SPREAD = 0.06  # per coordinate: a vector near a topic keeps a cosine of 1/√(1 + 512·0.06²) ≈ 0.6 to it


@dataclass
class Workload:
    """Seeded synthetic chunks and queries: the same in either venv."""

    texts: list[list[str]]  # per document, its chunks' texts
    vectors: np.ndarray  # a row per chunk, document by document
    queries: np.ndarray
    filters: list[list[int]]  # per query, the numbers of the documents it is restricted to
    keywords: list[str]  # per query, a BM25 query

    def doc_id(self, n: int) -> str:
        return f"{QUERY_PREFIX}-{n:07d}"

    def chunk_ids(self) -> list[str]:
        return [f"{self.doc_id(n)}#{i}" for n, texts in enumerate(self.texts) for i in range(len(texts))]

    def filter_rows(self, query: int) -> np.ndarray:
        """The rows of the chunks that query `query`'s document filter admits."""
        return np.array(
            [CHUNKS_PER_DOC * n + i for n in self.filters[query] for i in range(len(self.texts[n]))], dtype=np.int64
        )


def topical(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    """Unit vectors each near one of `centres` (cosine about 0.6 to it, 0.35 between two of one topic)."""
    near = centres[rng.integers(len(centres), size=n)] + TOPIC_SPREAD * rng.standard_normal((n, DIM))
    near = near.astype(np.float32)
    return near / np.linalg.norm(near, axis=1, keepdims=True)


def workload(chunks: int, queries: int, filter_docs: int, topics: int) -> Workload:
    """Chunk and query vectors uniform on the sphere, or with `topics`, clustered around that many topics."""
    rng = random.Random(13)
    vocab = vocabulary(rng)
    texts = [pieces(rng, vocab) for _ in range(-(-chunks // CHUNKS_PER_DOC))]
    texts[-1] = texts[-1][: chunks - CHUNKS_PER_DOC * (len(texts) - 1)]
    vectors_rng, query_rng = np.random.default_rng(13), np.random.default_rng(14)
    if topics:
        centres = unit_vectors(vectors_rng, topics)
        vectors, query_vectors = topical(vectors_rng, centres, chunks), topical(query_rng, centres, queries)
    else:
        vectors, query_vectors = unit_vectors(vectors_rng, chunks), unit_vectors(query_rng, queries)
    filters = [sorted(int(n) for n in query_rng.choice(len(texts), filter_docs, replace=False)) for _ in range(queries)]
    keywords = [words(rng, vocab, 3).rstrip(".") for _ in range(queries)]
    return Workload(texts, vectors, query_vectors, filters, keywords)


def exact(w: Workload) -> tuple[list[set[str]], list[set[str]]]:
    """Each query's exact top K by inner product (cosine: unit vectors), unfiltered and within its filter."""
    ids = np.array(w.chunk_ids())
    scores = w.queries @ w.vectors.T
    plain = [set(ids[np.argsort(-row)[:K]]) for row in scores]
    filtered = []
    for q, row in enumerate(scores):
        rows = w.filter_rows(q)
        filtered.append(set(ids[rows[np.argsort(-row[rows])[:K]]]))
    return plain, filtered


Search = Callable[[int], list[str]]


def latency(search: Search, count: int) -> tuple[np.ndarray, list[list[str]]]:
    """Milliseconds of each single query, and what each found (after 5 unmeasured warm-up queries)."""
    for i in range(min(5, count)):
        search(i)
    times, found = [], []
    for i in range(count):
        started = time.perf_counter()
        found.append(search(i))
        times.append(time.perf_counter() - started)
    return np.array(times) * 1000, found


def summary(label: str, search: Search, count: int, truth: list[set[str]] | None) -> str:
    ms, found = latency(search, count)
    line = f"p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms"
    if truth is not None:
        recall = np.mean([len(set(f) & t) / len(t) for f, t in zip(found, truth, strict=True)])
        line += f", recall@{K} {recall:.3f} (mean results {np.mean([len(f) for f in found]):.1f})"
    print(f"  {label}: {line}", flush=True)
    return line


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_query(store: str, chunks: int, queries: int, filter_docs: int, topics: int, milvus_index: str) -> None:
    shape = f"around {topics:,} topics" if topics else "uniform"
    print(
        f"{store}: {chunks:,} chunks ({shape}), {queries} queries, top {K}; load average (1/5/15 min) before: {load()}"
    )
    started = time.perf_counter()
    w = workload(chunks, queries, filter_docs, topics)
    plain, filtered = exact(w)
    print(f"  workload and exact top {K} (numpy): {time.perf_counter() - started:.1f} s", flush=True)
    folder = Path(tempfile.mkdtemp(prefix="rag-query-"))
    try:
        if store == "local":
            query_local(w, folder, plain, filtered)
        else:
            query_milvus(w, folder, milvus_index, plain, filtered)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"  load average after: {load()}")


def query_local(w: Workload, folder: Path, plain: list[set[str]], filtered: list[set[str]]) -> None:
    import faiss

    from index import vectors
    from index.base import Filter, Indexed
    from index.local import open_local
    from rag.settings import Settings

    assert vectors.NPROBE == NPROBE, "index/vectors.py's nprobe changed: update NPROBE here"
    flat = faiss.IndexFlatIP(DIM)
    flat.add(w.vectors)
    ids = np.array(w.chunk_ids())
    same = sum(set(ids[row]) == t for row, t in zip(flat.search(w.queries, K)[1], plain, strict=True))
    print(f"  numpy's exact top {K} = faiss IndexFlatIP's for {same} of {len(plain)} queries")

    indexed, row = [], 0
    for n, texts in enumerate(w.texts):
        doc, chunks = records(texts, n, QUERY_PREFIX)
        indexed.append(Indexed(doc, chunks, w.vectors[row : row + len(chunks)]))
        row += len(chunks)
    store = open_local(Settings(index_dir=folder / "index"))
    started = time.perf_counter()
    with store.lock():
        store.write("synthetic", DIM, indexed, [])
    written = time.perf_counter() - started
    started = time.perf_counter()
    store.dense_search(w.queries[0], K)
    opened = time.perf_counter() - started
    info = store.info()
    print(
        f"  LocalStore.write: {written:.1f} s ({len(w.vectors) / written:,.0f} chunks/s; FAISS {info.kind}, "
        f"BM25 and documents), {info.size_bytes / 1e6:.0f} MB on disk; first query (loads the index) {opened:.2f} s",
        flush=True,
    )

    def dense(i: int) -> list[str]:
        return [hit.chunk.chunk_id for hit in store.dense_search(w.queries[i], K)]

    def within(i: int) -> list[str]:
        where = Filter.of([w.doc_id(n) for n in w.filters[i]], None)
        return [hit.chunk.chunk_id for hit in store.dense_search(w.queries[i], K, where)]

    def lexical(i: int) -> list[str]:
        return [hit.chunk.chunk_id for hit in store.lexical_search(w.keywords[i], K)]

    count = len(w.queries)
    summary("dense", dense, count, plain)
    summary(f"dense within {len(w.filters[0])} documents", within, count, filtered)
    summary("BM25", lexical, count, None)


def query_milvus(w: Workload, folder: Path, index_type: str, plain: list[set[str]], filtered: list[set[str]]) -> None:
    import pymilvus
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    started = time.perf_counter()
    client = MilvusClient(str(folder / "bench.db"))
    print(f"  pymilvus {pymilvus.__version__}, milvus-lite server started in {time.perf_counter() - started:.1f} s")
    schema = client.create_schema(auto_id=False)
    schema.add_field("chunk_id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
    schema.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True)
    schema.add_field("dense", DataType.FLOAT_VECTOR, dim=DIM)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(
        Function(
            name="bm25", function_type=FunctionType.BM25, input_field_names=["text"], output_field_names=["sparse"]
        )
    )
    params = client.prepare_index_params()
    # IVF_FLAT gets the local store's cells (4·√n) and nprobe, so the two IVFs compare like for like.
    ivf = index_type == "IVF_FLAT"
    params.add_index(
        "dense",
        index_type=index_type,
        metric_type="IP",
        params={"nlist": int(4 * math.sqrt(len(w.vectors)))} if ivf else {},
    )
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection("bench", schema=schema, index_params=params, consistency_level="Strong")

    ids, row, inserting = w.chunk_ids(), 0, 0.0
    batch: list[dict[str, object]] = []
    for n, texts in enumerate(w.texts):
        for text in texts:
            batch.append({"chunk_id": ids[row], "doc_id": w.doc_id(n), "text": text, "dense": w.vectors[row].tolist()})
            row += 1
            if len(batch) == INSERT_BATCH or row == len(ids):
                started = time.perf_counter()
                client.insert("bench", batch)
                inserting += time.perf_counter() - started
                batch = []
    started = time.perf_counter()
    client.flush("bench")
    flushing = time.perf_counter() - started
    started = time.perf_counter()
    client.load_collection("bench")
    loading = time.perf_counter() - started
    started = time.perf_counter()
    dense_params: dict[str, object] = {"metric_type": "IP"}
    if ivf:
        dense_params["params"] = {"nprobe": NPROBE}
    client.search("bench", data=[w.queries[0].tolist()], anns_field="dense", limit=K, search_params=dense_params)
    opened = time.perf_counter() - started
    total = inserting + flushing + loading
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    print(
        f"  write: insert {inserting:.1f} s + flush {flushing:.1f} s + load {loading:.1f} s = {total:.1f} s "
        f"({len(ids) / total:,.0f} chunks/s; dense {index_type}, BM25 sparse index), {size / 1e6:.0f} MB on disk; "
        f"first query {opened:.2f} s; index: {client.describe_index('bench', 'dense')}",
        flush=True,
    )

    def search(data: object, field: str, search_params: dict[str, object], where: str = "") -> list[str]:
        found = client.search(
            "bench",
            data=[data],
            anns_field=field,
            limit=K,
            filter=where,
            output_fields=["doc_id", "text"],
            search_params=search_params,
        )
        return [str(hit["id"]) for hit in found[0]]

    def dense(i: int) -> list[str]:
        return search(w.queries[i].tolist(), "dense", dense_params)

    def within(i: int) -> list[str]:
        where = f"doc_id in {json.dumps([w.doc_id(n) for n in w.filters[i]])}"
        return search(w.queries[i].tolist(), "dense", dense_params, where)

    def lexical(i: int) -> list[str]:
        return search(w.keywords[i], "sparse", {"metric_type": "BM25"})

    count = len(w.queries)
    summary("dense", dense, count, plain)
    summary(f"dense within {len(w.filters[0])} documents", within, count, filtered)
    summary("BM25", lexical, count, None)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="figure", required=True)
    sub.add_parser("ingest").add_argument("--docs", type=int, default=1200)
    sub.add_parser("commit").add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    query = sub.add_parser("query")
    query.add_argument("--store", choices=["local", "milvus"], required=True)
    query.add_argument("--chunks", type=int, default=100_000)
    query.add_argument("--queries", type=int, default=200)
    query.add_argument("--filter-docs", type=int, default=10, help="documents a filtered query may return chunks of")
    query.add_argument("--topics", type=int, default=0, help="cluster the vectors around this many topics (0: uniform)")
    query.add_argument("--milvus-index", choices=["AUTOINDEX", "IVF_FLAT", "FLAT"], default="AUTOINDEX")
    args = parser.parse_args()
    if args.figure == "ingest":
        bench_ingest(args.docs)
    elif args.figure == "commit":
        bench_commit(args.sizes)
    else:
        bench_query(args.store, args.chunks, args.queries, args.filter_docs, args.topics, args.milvus_index)


if __name__ == "__main__":
    main()
