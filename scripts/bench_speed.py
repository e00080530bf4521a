"""Speed and size figures for docs/PERFORMANCE.md, measured side by side in one run.

    .venv/bin/python scripts/bench_speed.py ../shared/bench

1. Ingest throughput of the whole pipeline as a ratio to the bare embedder's own
   throughput on the same chunk texts (the HotpotQA corpus: 2,930 documents).
2. Query latency p50/p95 (query embedding included) for hybrid search at 1k, 10k and
   100k chunks. Real HotpotQA chunks and vectors are repeated to reach the larger
   sizes (each copy's vectors slightly perturbed and its text tagged, so neither FAISS
   nor BM25 sees exact duplicates): embedding 100k real paragraphs would take hours.
3. Index size on disk and in RAM per 1k chunks; cold start of `rag search`.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.benchmark import read_questions
from index.store import IndexStore, searchable_text
from rag.engine import Engine
from rag.paths import PROJECT_ROOT
from rag.settings import Settings

_LOAD_RAM = """
import sys
from pathlib import Path
def rss():
    line = next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024
from index.store import IndexStore
before = rss()
snapshot = IndexStore(sys.argv[1]).load()
print(rss() - before)
"""


def load_ram_mb(index_dir: Path) -> float:
    """Resident memory a fresh process gains by loading the index (imports excluded)."""
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_RAM, str(index_dir)], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


def ingest_ratio(bench: Path, workdir: Path) -> None:
    corpus = bench / "hotpotqa_multihop" / "corpus.jsonl"
    engine = Engine(Settings(index_dir=workdir / "ingest"), auto_demo=False)
    engine.embedder.embed_documents_array(["warm up"])
    started = time.perf_counter()
    report = engine.ingest([corpus])
    pipeline = time.perf_counter() - started
    snapshot = engine.snapshot()
    texts = [searchable_text(snapshot.documents[c.doc_id], c) for c in snapshot.chunks]
    started = time.perf_counter()
    for begin in range(0, len(texts), 64):
        engine.embedder.embed_documents_array(texts[begin : begin + 64])
    bare = time.perf_counter() - started
    n = len(texts)
    print(
        f"ingest  {n} chunks: pipeline {n / pipeline:.1f} chunks/s ({pipeline:.1f} s, embedding "
        f"{report.embed_seconds:.1f} s), bare embedder {n / bare:.1f} chunks/s; ratio {bare / pipeline:.2f}"
    )


def latency_at_sizes(bench: Path, workdir: Path, sizes: list[int]) -> None:
    base = Engine(Settings(index_dir=workdir / "hotpot"), auto_demo=False)
    base.ingest([bench / "hotpotqa_multihop" / "corpus.jsonl"])
    snap = base.snapshot()
    vectors = snap.vectors.vectors()
    questions = [q.question for q in read_questions(bench / "hotpotqa_multihop" / "questions.jsonl")][:100]
    rng = np.random.default_rng(0)
    for size in sizes:
        copies = -(-size // len(snap.chunks))
        docs, chunks, rows = [], [], []
        for copy in range(copies):
            for doc in snap.documents.values():
                docs.append(dataclasses.replace(doc, doc_id=f"{doc.doc_id}~{copy}", title=f"{doc.title} {copy}"))
            for chunk in snap.chunks:
                chunks.append(
                    dataclasses.replace(chunk, chunk_id=f"{chunk.chunk_id}~{copy}", doc_id=f"{chunk.doc_id}~{copy}")
                )
            noisy = vectors + (rng.normal(0, 0.02, vectors.shape).astype(np.float32) if copy else 0)
            rows.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
        keep = {c.doc_id for c in chunks[:size]}
        docs = [d for d in docs if d.doc_id in keep]
        # Both FAISS kinds side by side from 10k chunks on: the threshold between them
        # (Settings.exact_search_max) comes from this comparison.
        kinds = {"flat": size} if size < 10_000 else {"flat": size, "ivf": 0}
        exact_ids: list[list[str]] = []
        for kind, exact_max in kinds.items():
            settings = Settings(index_dir=workdir / f"size-{size}-{kind}", exact_search_max=exact_max)
            store = IndexStore(settings.index_dir)
            started = time.perf_counter()
            with store.lock():
                store.commit(
                    snap.manifest.embedder,
                    snap.manifest.dim,
                    docs,
                    chunks[:size],
                    np.concatenate(rows)[:size],
                    settings.exact_search_max,
                )
            build = time.perf_counter() - started
            ram = load_ram_mb(settings.index_dir)
            engine = Engine(settings, auto_demo=False)
            engine.search(questions[0])
            times, found = [], []
            for q in questions:
                started = time.perf_counter()
                found.append([p.chunk_id for p in engine.search(q, k=10, mode="dense")])
                times.append((time.perf_counter() - started) * 1000)
            if kind == "flat":
                exact_ids = found
            overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact_ids, strict=True)])
            disk = store.size_on_disk() / 1e6
            print(
                f"query   {size:>7,} chunks ({kind:4}): p50 {np.percentile(times, 50):5.1f} ms  "
                f"p95 {np.percentile(times, 95):5.1f} ms | dense top-10 overlap with exact {overlap:.3f} | "
                f"build {build:5.1f} s | disk {disk / size * 1000:.2f} MB and RAM {ram / size * 1000:.2f} MB per 1k chunks"
            )
            hybrid = []
            for q in questions:
                started = time.perf_counter()
                engine.search(q)
                hybrid.append((time.perf_counter() - started) * 1000)
            print(
                f"        hybrid search (dense + BM25 + title links): p50 {np.percentile(hybrid, 50):5.1f} ms  "
                f"p95 {np.percentile(hybrid, 95):5.1f} ms"
            )


def cold_start(workdir: Path) -> None:
    index = workdir / "hotpot"
    times = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "rag.cli", "--index", str(index), "search", "Battle of Guam", "-k", "3"],
            cwd=PROJECT_ROOT,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - started)
    print(
        f"cold start of `rag search` (process start to results, 2,930-document index): median {np.median(times):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", type=Path, help="the folder holding xquad_de_en and hotpotqa_multihop")
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        ingest_ratio(args.bench, workdir)
        latency_at_sizes(args.bench, workdir, [int(s) for s in args.sizes.split(",")])
        cold_start(workdir)


if __name__ == "__main__":
    main()
