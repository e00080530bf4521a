"""Retrieval quality on a benchmark folder: document recall@1/5/10 and MRR@10 for
BM25 alone, dense alone and the fused ranking, measured side by side in one run.

    .venv/bin/python scripts/bench_retrieval.py ../shared/bench/xquad_de_en [--chunk-tokens 200] [--embedder use]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from eval.benchmark import read_questions
from eval.metrics import mrr_at, recall_at
from rag.engine import Engine
from rag.paths import PROJECT_ROOT
from rag.settings import Settings

MODES = ("lexical", "dense", "hybrid")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", type=Path)
    parser.add_argument("--chunk-tokens", type=int, default=Settings().chunk_tokens)
    parser.add_argument("--chunk-overlap", type=int, default=Settings().chunk_overlap)
    parser.add_argument("--embedder", default=Settings().embedder)
    args = parser.parse_args()

    corpus = args.bench / "corpus.jsonl"
    key = hashlib.sha256(
        f"{corpus.resolve()}{corpus.stat().st_mtime}{args.embedder}{args.chunk_tokens}{args.chunk_overlap}".encode()
    ).hexdigest()[:12]
    settings = Settings(
        index_dir=PROJECT_ROOT / ".cache" / "bench-index" / f"{args.bench.name}-{key}",
        embedder=args.embedder,
        chunk_tokens=args.chunk_tokens,
        chunk_overlap=args.chunk_overlap,
    )
    engine = Engine(settings, auto_demo=False)
    report = engine.ingest([corpus])
    stats = engine.stats()
    print(
        f"{args.bench.name}: {stats.documents} docs, {stats.chunks} chunks "
        f"({args.chunk_tokens} tokens, overlap {args.chunk_overlap}); {report.summary()}"
    )

    questions = [q for q in read_questions(args.bench / "questions.jsonl") if q.answerable]
    scores: dict[tuple[str, str], list[list[float]]] = defaultdict(list)
    latency: dict[str, list[float]] = defaultdict(list)
    for q in questions:
        for mode in MODES:
            started = time.perf_counter()
            ranked = [p.doc_id for p in engine.search(q.question, k=40, mode=mode)]
            latency[mode].append(time.perf_counter() - started)
            row = [recall_at(ranked, q.gold_doc_ids, k) for k in (1, 5, 10)] + [mrr_at(ranked, q.gold_doc_ids)]
            for group in ("all", q.group):
                scores[(group, mode)].append(row)

    print(f"{'group':<28}{'mode':<9}{'R@1':>6}{'R@5':>6}{'R@10':>6}{'MRR':>6}{'n':>5}")
    for group in sorted({g for g, _ in scores}, key=lambda g: (g != "all", g)):
        for mode in MODES:
            rows = np.array(scores[(group, mode)])
            print(f"{group:<28}{mode:<9}" + "".join(f"{v:6.3f}" for v in rows.mean(axis=0)) + f"{len(rows):5d}")
    for mode in MODES:
        ms = np.array(latency[mode]) * 1000
        print(f"latency {mode:<8} p50 {np.percentile(ms, 50):.1f} ms  p95 {np.percentile(ms, 95):.1f} ms")


if __name__ == "__main__":
    main()
